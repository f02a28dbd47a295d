// venue.html: apply for the venue code (场所码), its poster (SVG and PNG, with
// the session header, so fetched and offered as a blob), the entry of a
// visitor without a phone by ID number (代为登记), today's entries, and
// revoking it.
import { api } from '../api.js';
import { HEBEI, loadDivisions, regionPicker } from '../divisions.js';
import { CATEGORIES, COLORS, label } from '../labels.js';
import { requireSession } from '../session.js';
import { $, busy, download, el, formatTime, frame, message, shanghaiDay } from '../ui.js';

await requireSession({ verified: true });
frame('venue');
const divisions = await loadDivisions();

const box = $('#msg');
const form = $('#apply');
const region = regionPicker(divisions, { levels: ['city', 'county'], root: HEBEI, name: 'venue-region' });
$('#region').append(region.element);
$('#category').append(el('option', { value: '' }, '请选择场所类型'), ...CATEGORIES.map(([value, text]) => el('option', { value }, text)));

let venue = null;
let posterUrl = null;
let cursor = null;

async function load() {
  let mine = null;
  try {
    mine = await api('GET', '/v1/venues/mine');
  } catch (err) {
    if (err.status !== 404) {
      message(box, err);
      return;
    }
  }
  venue = mine && mine.venue;
  form.hidden = Boolean(venue);
  $('#mine').hidden = !venue;
  if (venue) await show(mine);
}

async function show({ venue: v, qr }) {
  $('#venue-name').textContent = v.name;
  const fact = (dt, dd, cls) => [el('dt', {}, dt), el('dd', { class: cls }, dd)];
  $('#venue-facts').replaceChildren(
    ...fact('场所编号', v.id, 'venue-id'),
    ...fact('地址', v.address),
    ...fact('所在地', divisions.fullName(v.region)),
    ...fact('类型', label(CATEGORIES, v.category)),
    ...fact('申领时间', formatTime(v.created_at)),
  );
  $('#qr-content').textContent = qr;
  try {
    const svg = await api('GET', '/v1/venues/mine/poster', { as: 'blob' });
    if (posterUrl) URL.revokeObjectURL(posterUrl);
    posterUrl = URL.createObjectURL(svg);
    $('#poster').src = posterUrl;
  } catch (err) {
    message(box, err);
  }
  await entries(true);
}

async function entries(fresh) {
  if (fresh) {
    cursor = null;
    $('#entries').replaceChildren();
  }
  const page = await api('GET', '/v1/venues/mine/checkins', {
    query: { from: `${shanghaiDay()}T00:00:00+08:00`, next: cursor },
  });
  $('#entries').append(
    ...page.entries.map((e) =>
      el('li', {}, el('span', {}, formatTime(e.entered_at).slice(11), '　', e.name_masked), el('span', {}, el('i', { class: `dot ${e.color}` }), COLORS[e.color]))),
  );
  cursor = page.next;
  $('#more').hidden = !cursor;
  $('#entries-empty').hidden = $('#entries').children.length > 0;
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const f = form.elements;
  const inner = $('.msg', form);
  if (divisions.get(region.value)?.level !== 'county') {
    message(inner, '请选择场所所在的区县');
    return;
  }
  busy(form, async () => {
    try {
      const created = await api('POST', '/v1/venues', {
        body: { name: f.name.value.trim(), address: f.address.value.trim(), region: region.value, category: f.category.value },
      });
      message(inner, null);
      form.reset();
      region.reset();
      venue = created.venue;
      form.hidden = true;
      $('#mine').hidden = false;
      await show(created);
    } catch (err) {
      message(inner, err);
    }
  });
});

// The holder records a visitor without a phone by ID number. One Idempotency-Key
// per entry, kept while the number is unchanged, so a retry after a lost answer
// records it once.
const assisted = $('#assisted');
let assistedKey = null;
let assistedFor = null;
assisted.addEventListener('submit', (event) => {
  event.preventDefault();
  const inner = $('.msg', assisted);
  const input = $('#assisted-id');
  const number = input.value.trim().toUpperCase();
  if (!/^[0-9]{17}[0-9X]$/.test(number)) {
    message(inner, '身份证号码应为 18 位（末位可为 X）');
    return;
  }
  if (number !== assistedFor) {
    assistedFor = number;
    assistedKey = crypto.randomUUID();
  }
  busy(assisted, async () => {
    try {
      const entry = await api('POST', '/v1/venues/mine/checkins', {
        body: { id_number: number },
        headers: { 'idempotency-key': assistedKey },
      });
      message(inner, '已登记', 'ok');
      input.value = '';
      assistedFor = null;
      const fact = (dt, dd, cls) => [el('dt', {}, dt), el('dd', { class: cls }, dd)];
      const shown = $('#assisted-result');
      shown.replaceChildren(
        ...fact('姓名', entry.name_masked, 'name'),
        ...fact('健康码', el('span', {}, el('i', { class: `dot ${entry.color}` }), COLORS[entry.color]), 'color'),
        ...fact('登记时间', formatTime(entry.entered_at)),
      );
      shown.dataset.color = entry.color;
      shown.hidden = false;
      await entries(true);
    } catch (err) {
      message(inner, err);
    }
  });
});

async function poster(format) {
  try {
    const blob = await api('GET', '/v1/venues/mine/poster', { query: { format }, as: 'blob' });
    download(blob, `场所码-${venue.name}.${format}`);
  } catch (err) {
    message(box, err);
  }
}
$('#download-png').addEventListener('click', () => poster('png'));
$('#download-svg').addEventListener('click', () => poster('svg'));
$('#more').addEventListener('click', () => entries(false).catch((err) => message(box, err)));
$('#reload').addEventListener('click', () => entries(true).catch((err) => message(box, err)));
$('#revoke').addEventListener('click', async () => {
  if (!confirm(`作废“${venue.name}”的场所码？已张贴的场所码将无法再登记。`)) return;
  try {
    await api('DELETE', '/v1/venues/mine');
    message(box, '场所码已作废，可重新申领', 'ok');
    await load();
  } catch (err) {
    message(box, err);
  }
});

await load();
