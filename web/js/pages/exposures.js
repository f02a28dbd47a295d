// admin.html's exposures (时空伴随): mark a venue and window, or a case and
// window, as an exposure (from the form or from a trace), follow the
// worker's progress, download the contacts as CSV, withdraw it.
import { api } from '../api.js';
import { COLORS } from '../labels.js';
import { $, busy, download, el, formatTime, fromLocalInput, message, newIdempotencyKey, toCsv } from '../ui.js';

const STATUS = { pending: '排队中', running: '查找中', done: '已完成', withdrawn: '已撤销' };
let form;
let box;
let out;
let poll = null;

/** A local `datetime-local` value of an RFC 3339 time, Beijing time. */
const toLocalInput = (value) => (value ? formatTime(value).replace(' ', 'T').slice(0, 16) : '');

function labelFor() {
  const f = form.elements;
  const person = f.by.value === 'person';
  $('#exposure-id-label').textContent = person ? '病例身份证号或人员编号（s_…）' : '场所编号（v_…）';
  $('#exposure-window').hidden = !person;
}

/** Fills the form from a trace: a venue, or a case, and the trace's window. */
export function markFromTrace(by, id, from, to) {
  const f = form.elements;
  f.by.value = by;
  f.id.value = id;
  f.from.value = toLocalInput(from);
  f.to.value = toLocalInput(to);
  labelFor();
  $('#exposure').scrollIntoView({ behavior: 'smooth' });
  f.reason.focus();
}

async function contactsCsv(exposure) {
  const rows = [['姓名', '身份证号', '手机号', '场所编号', '进入时间', '人员编号']];
  let next = null;
  for (let i = 0; i < 10_000; i++) {
    const page = await api('GET', `/v1/admin/exposures/${encodeURIComponent(exposure.id)}/contacts`, { query: { next } });
    for (const c of page.contacts) rows.push([c.name, c.id_number, c.phone || '', c.venue_id, formatTime(c.entered_at), c.subject_id]);
    next = page.next;
    if (!next) break;
  }
  download(new Blob([toCsv(rows)], { type: 'text/csv' }), `时空伴随-${exposure.id}.csv`);
}

function show(exposure) {
  const withdraw = el('button', { type: 'button', class: 'secondary', id: 'exposure-withdraw' }, '撤销');
  const csv = el('button', { type: 'button', class: 'secondary', id: 'exposure-csv' }, '下载密接名单 CSV');
  withdraw.hidden = exposure.status === 'withdrawn';
  withdraw.addEventListener('click', () => busy(withdraw, async () => {
    if (!confirm('撤销后，这些人员的健康码将不再因此变色。确定撤销？')) return;
    try {
      await api('DELETE', `/v1/admin/exposures/${encodeURIComponent(exposure.id)}`);
      follow(exposure.id);
    } catch (err) {
      message(box, err);
    }
  }));
  csv.addEventListener('click', () => busy(csv, () => contactsCsv(exposure).catch((err) => message(box, err))));
  out.replaceChildren(
    el('dl', { class: 'facts exposure-status', dataset: { status: exposure.status } },
      el('dt', {}, '编号'), el('dd', {}, exposure.id),
      el('dt', {}, '状态'), el('dd', { class: 'status' }, STATUS[exposure.status] || exposure.status),
      el('dt', {}, '赋码'), el('dd', {}, COLORS[exposure.level]),
      el('dt', {}, '时间范围'), el('dd', {}, `${formatTime(exposure.from)} 至 ${formatTime(exposure.to)}`),
      el('dt', {}, '密接人数'), el('dd', { class: 'contacts' }, String(exposure.contacts)),
      exposure.finished_at ? [el('dt', {}, '完成时间'), el('dd', {}, formatTime(exposure.finished_at))] : null),
    el('p', { class: 'row' }, csv, withdraw),
  );
}

/** Shows the exposure, again every second while the worker is on it. */
async function follow(id) {
  clearTimeout(poll);
  try {
    const { exposure } = await api('GET', `/v1/admin/exposures/${encodeURIComponent(id)}`);
    show(exposure);
    if (exposure.status === 'pending' || exposure.status === 'running') poll = setTimeout(() => follow(id), 1000);
  } catch (err) {
    message(box, err);
  }
}

export function setupExposures() {
  form = $('#exposure-form');
  box = $('.msg', $('#exposure'));
  out = $('#exposure-result');
  form.addEventListener('change', labelFor);
  labelFor();
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const f = form.elements;
    const id = f.id.value.trim();
    const body = { from: fromLocalInput(f.from.value), to: fromLocalInput(f.to.value, 59), level: f.level.value, reason: f.reason.value.trim() };
    if (f.by.value === 'venue') body.venue_id = id;
    else if (id.startsWith('s_')) body.subject_id = id;
    else body.id_number = id.toUpperCase();
    if (f.by.value === 'person' && f.window.value) body.window_minutes = Number(f.window.value);
    busy(form, async () => {
      try {
        const { exposure } = await api('POST', '/v1/admin/exposures', { body, headers: { 'idempotency-key': newIdempotencyKey() } });
        message(box, '已登记，正在查找密接人员…', 'info');
        follow(exposure.id);
      } catch (err) {
        message(box, err.status === 404 ? (f.by.value === 'venue' ? '未找到该场所' : '未找到该人员') : err);
      }
    });
  });
}
