// code.html: "my code" (出示健康码) — the QR in a frame of its colour,
// refreshed at `refresh_after` — for oneself and each dependent; the
// dependents themselves (监护人代领); the guardians of one's own code, and
// invitations for a further guardian of oneself or of a dependent.
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
  const forSubject = (page) => (subject ? `${page}?subject=${encodeURIComponent(subject)}` : page);
  card.append(clock, refresh, el('p', { class: 'muted' },
    el('a', { href: forSubject('declare.html') }, '健康申报 / 更正'), ' · ',
    el('a', { href: forSubject('appeal.html'), id: 'to-appeal' }, '对颜色有异议？申诉')));
  codeBox.replaceChildren(card);
  tick = setInterval(update, 1000);
  showNotices(wanted);
  // A new code before the old one expires; at least a few seconds apart.
  timer = setTimeout(showCode, Math.max(5_000, refreshAt - Date.now()));
}

/** The notices of the subject shown (时空伴随提醒, 申诉结果), newest first; hidden when there are none. */
async function showNotices(wanted) {
  const section = $('#notices');
  let notices = [];
  try {
    ({ notices } = await api('GET', '/v1/notices', { query: { subject_id: wanted } }));
  } catch {
    notices = [];
  }
  if (wanted !== subject) return;
  section.hidden = notices.length === 0;
  $('#notice-list').replaceChildren(
    ...notices.map((n) => el('li', { class: 'notice', dataset: { id: n.id, kind: n.kind } }, el('p', {}, n.text), el('small', { class: 'muted' }, formatTime(n.created_at)))),
  );
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') showCode();
});

/**
 * Issues an invitation for a further guardian of `subjectId` (the caller's
 * own subject or a dependent's) and shows its code, to be given to them.
 */
async function invite(subjectId, who, box, button) {
  button.disabled = true;
  try {
    const { invitation } = await api('POST', `/v1/dependents/${encodeURIComponent(subjectId)}/invitations`);
    box.hidden = false;
    box.className = 'msg info invitation';
    box.replaceChildren(
      el('span', {}, `邀请他人成为${who}的监护人：请将邀请码交给对方，对方在“添加被监护人”时连同${who}的姓名和身份证号码一起填写。`),
      el('code', { class: 'qr-content invitation-code' }, invitation.code),
      el('small', { class: 'invitation-expiry' }, `有效期至 ${formatTime(invitation.expires_at)}，仅可使用一次。`),
    );
  } catch (err) {
    message(box, err);
  } finally {
    button.disabled = false;
  }
}

function renderDependents() {
  const list = $('#dependent-list');
  const box = $('#dependent-msg');
  const dependents = user.dependents || [];
  list.replaceChildren(
    ...dependents.map((d) => {
      const inviteButton = el('button', {
        type: 'button', class: 'secondary invite',
        onclick: () => invite(d.subject_id, ` ${d.name_masked} `, box, inviteButton),
      }, '邀请监护人');
      return el('li', { dataset: { subject: d.subject_id } },
        el('span', {}, `${d.name_masked}（${label(RELATIONS, d.relation)}）`, el('br'), el('small', {}, d.id_masked)),
        el('span', { class: 'actions' },
          inviteButton,
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
          }, '解除')));
    }),
  );
  if (!dependents.length) list.append(el('li', { class: 'muted' }, '暂无被监护人'));
  $('#add-dependent').hidden = dependents.length >= 5;
}

/** The guardians of the caller's own code (GET /v1/guardians), each with a remove button. */
async function renderGuardians() {
  const list = $('#guardian-list');
  const box = $('#guardian-msg');
  const { guardians } = await api('GET', '/v1/guardians');
  list.replaceChildren(
    ...guardians.map((g) =>
      el('li', { dataset: { guardian: g.id } },
        el('span', {}, el('span', { class: 'name' }, g.name_masked), el('br'),
          el('small', {}, `对方登记的关系：${label(RELATIONS, g.relation)} · 添加于 ${formatTime(g.added_at).slice(0, 16)}`)),
        el('button', {
          type: 'button', class: 'danger',
          onclick: async (event) => {
            if (!confirm(`移除监护人 ${g.name_masked}？移除后对方将无法再查看或代办您的健康码。`)) return;
            event.target.disabled = true;
            try {
              await api('DELETE', `/v1/guardians/${encodeURIComponent(g.id)}`);
              await renderGuardians();
              message(box, `已移除监护人 ${g.name_masked}`, 'ok');
            } catch (err) {
              event.target.disabled = false;
              message(box, err);
            }
          },
        }, '移除')),
    ),
  );
  if (!guardians.length) list.append(el('li', { class: 'muted' }, '暂无监护人'));
}

const inviteSelf = $('#invite-self');
inviteSelf.addEventListener('click', () => invite(user.subject_id, '您', $('#guardian-msg'), inviteSelf));

async function reload(select) {
  user = await loadMe();
  subject = select;
  const url = new URL(location.href);
  if (subject) url.searchParams.set('subject', subject);
  else url.searchParams.delete('subject');
  history.replaceState(null, '', url);
  subjectTabs($('#subjects'), user, subject, (id) => { subject = id; showCode(); });
  renderDependents();
  renderGuardians().catch((err) => message($('#guardian-msg'), err));
  await showCode();
}

const relation = $('#relation');
relation.append(...RELATIONS.map(([value, text]) => el('option', { value }, text)));
const form = $('#dependent');
form.addEventListener('submit', (event) => {
  event.preventDefault();
  const f = form.elements;
  busy(form, async () => {
    const invitation = f.invitation.value.trim().toLowerCase();
    try {
      const { dependent } = await api('POST', '/v1/dependents', {
        body: {
          name: f.name.value.trim(), id_number: f.id_number.value.trim().toUpperCase(), relation: f.relation.value,
          ...(invitation ? { invitation } : {}),
        },
      });
      // A dependent's code starts with a declaration for them.
      location.href = `declare.html?subject=${encodeURIComponent(dependent.subject_id)}`;
    } catch (err) {
      if (err.code === 'guardian-consent-required' && invitation) {
        message($('.msg', form), '邀请码无效、已被使用、已过期或不是为此人生成的，请向其本人或现有监护人重新索取');
      } else {
        message($('.msg', form), err);
      }
    }
  });
});

await reload(subject);
