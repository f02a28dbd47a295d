// The authority's appeal queue on admin.html: open appeals, oldest first, with the person's
// identity and colour now (GET /v1/admin/appeals, audited), and the decision
// (POST /v1/admin/appeals/{id}): upheld, optionally with a colour recorded as a verification, or
// rejected, with a note the person sees.
import { api } from '../api.js';
import { COLORS } from '../labels.js';
import { $, busy, el, formatTime, message } from '../ui.js';

export function setupAppeals() {
  const section = $('#appeals');
  const box = $('.msg', section);
  const list = $('#appeal-queue');
  let next = null;

  const decideForm = (a, row) => {
    const form = el('form', { class: 'decide', autocomplete: 'off' },
      el('label', { class: 'field' }, el('span', {}, '答复（申诉人可见）'), el('input', { name: 'note', required: true, maxlength: 200 })),
      el('label', { class: 'field' }, el('span', {}, '核验颜色（支持时选填）'),
        el('select', { name: 'color' }, el('option', { value: '' }, '不改变'), ...['green', 'yellow', 'red'].map((c) => el('option', { value: c }, COLORS[c])))),
      el('div', { class: 'row' },
        el('button', { type: 'submit', name: 'outcome', value: 'upheld' }, '支持'),
        el('button', { type: 'submit', name: 'outcome', value: 'rejected', class: 'secondary' }, '不支持')));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const outcome = event.submitter ? event.submitter.value : 'rejected';
      const body = { outcome, note: form.elements.note.value.trim() };
      if (outcome === 'upheld' && form.elements.color.value) body.color = form.elements.color.value;
      busy(form, async () => {
        try {
          await api('POST', `/v1/admin/appeals/${encodeURIComponent(a.id)}`, { body });
          row.remove();
          message(box, outcome === 'upheld' ? '已支持该申诉' : '已驳回该申诉', 'info');
        } catch (err) {
          message(box, err);
        }
      });
    });
    return form;
  };

  const load = (more) =>
    busy(section, async () => {
      try {
        const answer = await api('GET', '/v1/admin/appeals', { query: { status: 'open', next: more ? next : undefined } });
        next = answer.next;
        const rows = answer.appeals.map((a) => {
          const row = el('li', { class: 'appeal', dataset: { id: a.id, subject: a.subject_id } },
            el('p', {}, el('strong', {}, a.name), ` ${a.id_number} `, el('i', { class: `dot ${a.color}` }), COLORS[a.color],
              el('br'), el('small', {}, `${formatTime(a.created_at)} · ${a.reason}`)));
          row.append(decideForm(a, row));
          return row;
        });
        if (more) list.append(...rows);
        else list.replaceChildren(...rows);
        $('#appeals-more').hidden = !next;
        $('#no-open-appeals').hidden = list.children.length > 0;
        message(box, null);
      } catch (err) {
        message(box, err);
      }
    });
  $('#appeals-load').addEventListener('click', () => load(false));
  $('#appeals-more').addEventListener('click', () => load(true));
}
