// appeal.html: an appeal against the code's colour (POST /v1/appeals), for oneself or a
// dependent, and the subject's appeals with the authority's answers (GET /v1/appeals).
import { api } from '../api.js';
import { requireSession } from '../session.js';
import { loadMe, selectedSubject, subjectTabs } from '../subjects.js';
import { $, busy, el, formatTime, frame, message } from '../ui.js';

await requireSession({ verified: true });
frame('code');
const user = await loadMe();
frame('code');

const form = $('#appeal');
const box = $('.msg', form);
let subject = selectedSubject(user);
const STATUS = { open: '待处理', upheld: '已支持', rejected: '未支持' };

function render(appeals) {
  $('#no-appeals').hidden = appeals.length > 0;
  $('#appeal-list').replaceChildren(
    ...appeals.map((a) =>
      el('li', { class: 'appeal', dataset: { id: a.id, status: a.status } },
        el('span', {}, formatTime(a.created_at), el('br'), el('small', { class: 'reason' }, a.reason),
          a.note ? [el('br'), el('small', { class: 'note' }, `答复：${a.note}`)] : null),
        el('span', { class: `appeal-status ${a.status}` }, STATUS[a.status] || a.status)),
    ),
  );
}

async function load() {
  const { appeals } = await api('GET', '/v1/appeals', { query: { subject_id: subject } });
  render(appeals);
  return appeals;
}

subjectTabs($('#subjects'), user, subject, (id) => {
  subject = id;
  load().catch((err) => message(box, err));
});
await load().catch((err) => message(box, err));

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const reason = form.elements.reason.value.trim();
  if ([...reason].length < 5) {
    message(box, '申诉理由至少 5 个字');
    return;
  }
  const body = { reason };
  if (subject) body.subject_id = subject;
  busy(form, async () => {
    try {
      const { appeal } = await api('POST', '/v1/appeals', { body });
      form.reset();
      message(box, '申诉已提交，请等待卫生健康部门核实答复。', 'info');
      // The list is read from an index that may lag a second: show the new appeal at once.
      const listed = await load().catch(() => []);
      if (!listed.some((a) => a.id === appeal.id)) render([{ ...appeal, reason }, ...listed]);
    } catch (err) {
      message(box, err);
    }
  });
});
