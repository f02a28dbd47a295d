// declare.html: the daily health declaration (POST /v1/declarations), for
// oneself or a dependent, and the declarations of the last 14 days.
import { api } from '../api.js';
import { HEBEI, loadDivisions, regionPicker } from '../divisions.js';
import { COLORS, SYMPTOMS, label } from '../labels.js';
import { requireSession, safeNext } from '../session.js';
import { loadMe, selectedSubject, subjectTabs } from '../subjects.js';
import { $, busy, el, formatTime, frame, message, shanghaiDay } from '../ui.js';

await requireSession({ verified: true });
frame('declare');
const [divisions, user] = await Promise.all([loadDivisions(), loadMe()]);
frame('declare');

const next = safeNext(new URLSearchParams(location.search).get('next'));
const form = $('#declare');
const box = $('.msg', form);
let subject = selectedSubject(user);

const region = regionPicker(divisions, { levels: ['city', 'county'], root: HEBEI, optional: ['county'], name: 'region' });
$('#region').append(region.element);
const visitedPicker = regionPicker(divisions, { levels: ['province', 'city', 'county'], optional: ['city', 'county'], name: 'visited' });
$('#visited').append(visitedPicker.element);
$('#symptoms').append(
  ...SYMPTOMS.map(([value, text]) => el('label', {}, el('input', { type: 'checkbox', name: 'symptoms', value }), text)),
);

let visited = [];
function renderVisited() {
  $('#visited-list').replaceChildren(
    ...visited.map((code) =>
      el('span', { class: 'chip', dataset: { code } }, divisions.fullName(code),
        el('button', { type: 'button', 'aria-label': `删除${divisions.fullName(code)}`, onclick: () => { visited = visited.filter((c) => c !== code); renderVisited(); } }, '×')),
    ),
  );
}
$('#add-visited').addEventListener('click', () => {
  const code = visitedPicker.value;
  if (!code) {
    message(box, '请先选择到访的省份（可细化到市、区县）');
    return;
  }
  message(box, null);
  if (!visited.includes(code) && visited.length < 100) visited.push(code);
  visitedPicker.reset();
  renderVisited();
});

/** Who filed a declaration: 本人, or 监护人 with their masked name. */
const declaredBy = (d) => (d.declared_by === 'guardian' ? `监护人${d.name_masked ? ` ${d.name_masked}` : ''}` : '本人');

async function loadHistory() {
  const { declarations } = await api('GET', '/v1/declarations', { query: { subject_id: subject } });
  const today = shanghaiDay();
  const count = declarations.filter((d) => shanghaiDay(new Date(d.declared_at)) === today).length;
  $('#quota').textContent = `今日已申报 ${count} 次，每天最多 3 次。`;
  $('#history').hidden = declarations.length === 0;
  $('#history-list').replaceChildren(
    ...declarations.map((d) =>
      el('li', {},
        el('span', {}, formatTime(d.declared_at), el('br'), el('small', {}, `${divisions.shortName(d.region)} · ${d.temperature.toFixed(1)}°C${d.symptoms.length ? ` · ${d.symptoms.map((s) => label(SYMPTOMS, s)).join('、')}` : ''}`),
          el('br'), el('small', { class: 'declared-by' }, `申报人：${declaredBy(d)}`)),
        el('span', {}, el('i', { class: `dot ${d.color}` }), COLORS[d.color])),
    ),
  );
  // Start from the last declaration: most people declare the same place every day.
  const last = declarations[0];
  region.reset();
  visited = [];
  if (last) {
    region.set(last.region);
    visited = [...last.visited_regions];
  }
  renderVisited();
}

subjectTabs($('#subjects'), user, subject, (id) => {
  subject = id;
  $('#result').hidden = true;
  form.hidden = false;
  loadHistory().catch((err) => message(box, err));
});
await loadHistory().catch((err) => message(box, err));
form.hidden = false;

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const f = form.elements;
  if (!region.value) {
    message(box, '请选择当前所在的市（可细化到区县）');
    return;
  }
  const temperature = Number(f.temperature.value);
  if (!(temperature >= 34 && temperature <= 43)) {
    message(box, '体温应在 34.0 至 43.0 °C 之间');
    return;
  }
  const body = {
    region: region.value,
    temperature: Math.round(temperature * 10) / 10,
    symptoms: [...form.querySelectorAll('input[name=symptoms]:checked')].map((c) => c.value),
    close_contact: f.close_contact.value === 'true',
    visited_regions: visited,
    from_abroad: f.from_abroad.value === 'true',
  };
  if (subject) body.subject_id = subject;
  busy(form, async () => {
    try {
      const answer = await api('POST', '/v1/declarations', { body });
      message(box, null);
      showResult(answer);
      loadHistory().catch(() => {});
    } catch (err) {
      message(box, err);
    }
  });
});

function showResult({ status, remaining_today }) {
  const result = $('#result');
  const codeLink = subject ? `code.html?subject=${encodeURIComponent(subject)}` : 'code.html';
  result.replaceChildren(
    el('section', { class: `code-card ${status.color}`, dataset: { color: status.color } },
      el('h2', {}, '申报成功'),
      el('p', { class: 'code-head centered' }, el('span', { class: 'color-label' }, `健康码：${COLORS[status.color]}`)),
      status.hints.length
        ? el('div', { class: 'status verify' }, el('p', { class: 'status-text' }, status.status_text), el('ul', { class: 'hints' }, status.hints.map((h) => el('li', {}, h))))
        : el('div', { class: 'status pass' }, el('p', { class: 'status-text' }, status.status_text)),
      el('p', { class: 'muted' }, `今日还可申报 ${remaining_today} 次`),
      next ? el('p', {}, el('a', { class: 'button block', href: next }, '继续场所登记')) : null,
      el('a', { class: next ? 'button block secondary' : 'button block', href: codeLink, id: 'to-code' }, '查看健康码'),
      el('p', {}, el('button', { type: 'button', class: 'link', onclick: () => { result.hidden = true; form.hidden = false; } }, '更正申报'))),
  );
  form.hidden = true;
  result.hidden = false;
  window.scrollTo(0, 0);
}
