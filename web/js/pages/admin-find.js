// admin.html, where a trace starts: a person by resident ID number (shown,
// then traced), and a county's venues by a part of the name (listed page by
// page, traced, or revoked after a confirmation).
import { api } from '../api.js';
import { HEBEI, regionPicker } from '../divisions.js';
import { CATEGORIES, COLORS, label } from '../labels.js';
import { $, busy, el, formatTime, message } from '../ui.js';

/** Pages read at most per click while a name filter leaves them empty. */
const EMPTY_PAGES = 10;

/**
 * divisions: the loaded division table; openTrace(by, id): shows the trace
 * of a venue ('venue') or a subject ('subject') in the tracing card.
 */
export function setupFind(divisions, openTrace) {
  setupPerson(openTrace);
  setupVenues(divisions, openTrace);
}

function setupPerson(openTrace) {
  const form = $('#person-form');
  const box = $('.msg', $('#find-person'));
  const out = $('#person-result');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const number = form.elements.id_number.value.trim();
    busy(form, async () => {
      out.replaceChildren();
      message(box, '正在查询…', 'info');
      let subject;
      try {
        ({ subject } = await api('GET', '/v1/admin/subjects', { query: { id_number: number } }));
      } catch (err) {
        message(box, err.status === 404 ? '未找到该身份证号的人员（未注册，也无监护人代为登记）' : err);
        return;
      }
      message(box, null);
      // The number stays on screen only in the answer, not in the form.
      form.reset();
      out.append(
        el('dl', { class: 'facts found-subject', dataset: { color: subject.color } },
          el('dt', {}, '姓名'), el('dd', { class: 'name' }, subject.name),
          el('dt', {}, '身份证号'), el('dd', {}, subject.id_number),
          el('dt', {}, '手机号'), el('dd', {}, subject.phone || '—'),
          el('dt', {}, '健康码'), el('dd', { class: 'color' }, COLORS[subject.color] || subject.color),
          el('dt', {}, '注册'), el('dd', { class: 'registered' }, subject.registered ? '本人已注册' : '仅由监护人登记'),
          el('dt', {}, '人员编号'), el('dd', { class: 'subject-id' }, subject.subject_id)),
        el('p', {}, el('button', { type: 'button', class: 'secondary', onclick: () => openTrace('subject', subject.subject_id) }, '查看行程')),
      );
      openTrace('subject', subject.subject_id);
    });
  });
}

function setupVenues(divisions, openTrace) {
  const form = $('#venue-search-form');
  const box = $('.msg', $('#find-venues'));
  const out = $('#venue-results');
  const region = regionPicker(divisions, { levels: ['city', 'county'], root: HEBEI, name: 'find-region' });
  $('#find-region').replaceChildren(region.element);
  let query = null;
  let next = null;

  const revoke = (row, venue) => {
    const confirm = el('tr', { class: 'confirm-revoke' },
      el('td', { colspan: 6 },
        el('span', {}, `确认作废「${venue.name}」的场所码？作废后，张贴的场所码无法再登记进入。`),
        el('button', {
          type: 'button', class: 'danger confirm', onclick: () => busy(out, async () => {
            try {
              await api('DELETE', `/v1/admin/venues/${encodeURIComponent(venue.id)}`);
            } catch (err) {
              message(box, err);
              return;
            }
            confirm.remove();
            venue.revoked = true;
            row.replaceWith(venueRow(venue));
            message(box, `已作废「${venue.name}」`, 'ok');
          }),
        }, '确认作废'),
        el('button', { type: 'button', class: 'link', onclick: () => confirm.remove() }, '取消')));
    out.querySelector('.confirm-revoke')?.remove();
    row.after(confirm);
  };

  const venueRow = (venue) => {
    const row = el('tr', { dataset: { venue: venue.id, revoked: String(venue.revoked) } },
      el('td', { class: 'venue-name' }, venue.name),
      el('td', {}, venue.address),
      el('td', {}, label(CATEGORIES, venue.category)),
      el('td', {}, formatTime(venue.created_at)),
      el('td', { class: 'state' }, venue.revoked ? '已作废' : '有效'),
      el('td', {},
        el('button', { type: 'button', class: 'link trace', onclick: () => openTrace('venue', venue.id) }, '流调'),
        venue.revoked ? null : [' ', el('button', { type: 'button', class: 'link revoke', onclick: () => revoke(row, venue) }, '作废')]));
    return row;
  };

  async function load(more) {
    let found = [];
    try {
      for (let i = 0; i < EMPTY_PAGES; i++) {
        const page = await api('GET', '/v1/admin/venues', { query: { ...query, next: more ? next : null } });
        more = true;
        next = page.next;
        found = page.venues;
        if (found.length || !next) break;
      }
    } catch (err) {
      message(box, err);
      return;
    }
    const tbody = $('tbody', out) || (() => {
      out.replaceChildren(el('div', { class: 'table-wrap' }, el('table', { class: 'venue-table' },
        el('thead', {}, el('tr', {}, ['名称', '地址', '类型', '申领时间', '状态', ''].map((h) => el('th', {}, h)))),
        el('tbody', {}))));
      return $('tbody', out);
    })();
    tbody.append(...found.map(venueRow));
    const count = tbody.children.length;
    message(box, count ? null : '该区县没有名称相符的场所', 'info');
    $('#venue-more').hidden = !next;
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!region.complete) {
      message(box, '请选择区县');
      return;
    }
    query = { region: region.value, q: form.elements.q.value.trim() };
    next = null;
    out.replaceChildren();
    busy(form, () => load(false));
  });
  $('#venue-more').addEventListener('click', () => busy(form, () => load(true)));
}
