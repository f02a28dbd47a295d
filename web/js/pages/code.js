// code.html: "my code" (出示健康码) — the QR in a frame of its colour,
// refreshed at `refresh_after` — for oneself and each dependent, and the
// dependents themselves (监护人代领).
import { api } from '../api.js';
import { RELATIONS, label } from '../labels.js';
import { requireSession } from '../session.js';
import { loadMe, selectedSubject, subjectTabs } from '../subjects.js';
import { $, busy, codeCard, el, formatTime, frame, message } from '../ui.js';

await requireSession({ verified: true });
frame('code');
let user = await loadMe();
frame('code');

let subject = selectedSubject(user);
let timer = null;
let tick = null;
const codeBox = $('#code');
const codeMsg = $('#code-msg');

async function showCode() {
  clearTimeout(timer);
  clearInterval(tick);
  const wanted = subject;
  let view;
  try {
    view = await api('GET', '/v1/code', { query: { subject_id: subject } });
  } catch (err) {
    if (wanted !== subject) return;
    codeBox.replaceChildren();
    if (err.code === 'declaration-required') {
      const href = subject ? `declare.html?subject=${encodeURIComponent(subject)}` : 'declare.html';
      codeMsg.hidden = false;
      codeMsg.className = 'msg info';
      codeMsg.replaceChildren(el('span', {}, '首次领码需先进行健康申报。'), el('a', { href }, '去申报'));
    } else {
      message(codeMsg, err);
      timer = setTimeout(showCode, 15_000);
    }
    return;
  }
  if (wanted !== subject) return;
  message(codeMsg, null);
  const clock = el('p', { class: 'clock' });
  const refresh = el('p', { class: 'refresh' });
  const refreshAt = Date.parse(view.refresh_after);
  const fetched = formatTime(new Date()).slice(11);
  const update = () => {
    clock.textContent = formatTime(new Date());
    const left = Math.max(0, Math.round((refreshAt - Date.now()) / 1000));
    refresh.textContent = `二维码更新于 ${fetched}，${left} 秒后自动刷新`;
  };
  update();
  const card = codeCard(view);
  card.append(clock, refresh, el('p', { class: 'muted' }, el('a', { href: subject ? `declare.html?subject=${encodeURIComponent(subject)}` : 'declare.html' }, '健康申报 / 更正')));
  codeBox.replaceChildren(card);
  tick = setInterval(update, 1000);
  // A new code before the old one expires; at least a few seconds apart.
  timer = setTimeout(showCode, Math.max(5_000, refreshAt - Date.now()));
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') showCode();
});

function renderDependents() {
  const list = $('#dependent-list');
  const dependents = user.dependents || [];
  list.replaceChildren(
    ...dependents.map((d) =>
      el('li', { dataset: { subject: d.subject_id } },
        el('span', {}, `${d.name_masked}（${label(RELATIONS, d.relation)}）`, el('br'), el('small', {}, d.id_masked)),
        el('button', {
          type: 'button', class: 'danger',
          onclick: async () => {
            if (!confirm(`解除与 ${d.name_masked} 的监护关系？`)) return;
            try {
              await api('DELETE', `/v1/dependents/${encodeURIComponent(d.subject_id)}`);
              await reload(subject === d.subject_id ? '' : subject);
            } catch (err) {
              message(codeMsg, err);
            }
          },
        }, '解除')),
    ),
  );
  if (!dependents.length) list.append(el('li', { class: 'muted' }, '暂无被监护人'));
  $('#add-dependent').hidden = dependents.length >= 5;
}

async function reload(select) {
  user = await loadMe();
  subject = select;
  const url = new URL(location.href);
  if (subject) url.searchParams.set('subject', subject);
  else url.searchParams.delete('subject');
  history.replaceState(null, '', url);
  subjectTabs($('#subjects'), user, subject, (id) => { subject = id; showCode(); });
  renderDependents();
  await showCode();
}

const relation = $('#relation');
relation.append(...RELATIONS.map(([value, text]) => el('option', { value }, text)));
const form = $('#dependent');
form.addEventListener('submit', (event) => {
  event.preventDefault();
  const f = form.elements;
  busy(form, async () => {
    try {
      const { dependent } = await api('POST', '/v1/dependents', {
        body: { name: f.name.value.trim(), id_number: f.id_number.value.trim().toUpperCase(), relation: f.relation.value },
      });
      // A dependent's code starts with a declaration for them.
      location.href = `declare.html?subject=${encodeURIComponent(dependent.subject_id)}`;
    } catch (err) {
      message($('.msg', form), err);
    }
  });
});

await reload(subject);
