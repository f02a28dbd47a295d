// v.html, served at /v: the page a venue's QR code opens (<VENUE_URL_BASE>?c=<token>).
// After login and real-name authentication, it checks the visitor in at once.
import { checkIn, checkinResult } from '../checkin.js';
import { requireSession } from '../session.js';
import { loadMe } from '../subjects.js';
import { $, el, frame, message, newIdempotencyKey } from '../ui.js';
import { RELATIONS, label } from '../labels.js';

const token = new URLSearchParams(location.search).get('c');
frame('checkin');
const box = $('#msg');

/** The key of this entry: kept for ten minutes, so that reloading the page logs nothing twice. */
function keyFor(subject) {
  const name = `hc.checkin.${token}.${subject}`;
  try {
    const stored = JSON.parse(sessionStorage.getItem(name));
    if (stored && Date.now() - stored.at < 10 * 60_000) return stored.key;
  } catch {
    /* a new key */
  }
  const key = newIdempotencyKey();
  sessionStorage.setItem(name, JSON.stringify({ key, at: Date.now() }));
  return key;
}

async function enter(subject, into) {
  try {
    const answer = await checkIn(token, subject, keyFor(subject));
    into.replaceChildren(checkinResult(answer));
    into.hidden = false;
    return true;
  } catch (err) {
    if (err.code === 'declaration-required') {
      const declare = `declare.html?next=${encodeURIComponent(location.pathname + location.search)}${subject ? `&subject=${encodeURIComponent(subject)}` : ''}`;
      box.hidden = false;
      box.className = 'msg info';
      box.replaceChildren(el('span', {}, '登记前需先进行健康申报。'), el('a', { href: declare }, '去申报'));
    } else {
      message(box, err);
    }
    return false;
  }
}

if (!token) {
  message(box, '链接中缺少场所码，请重新扫描场所码');
} else {
  await requireSession({ verified: true });
  const user = await loadMe();
  frame('checkin');
  if (await enter('', $('#result'))) {
    const dependents = user.dependents || [];
    $('#others').hidden = dependents.length === 0;
    $('#other-list').replaceChildren(
      ...dependents.map((d) => {
        const into = el('div', { hidden: true });
        const button = el('button', {
          type: 'button', class: 'secondary',
          onclick: async () => {
            button.disabled = true;
            if (await enter(d.subject_id, into)) button.remove();
            else button.disabled = false;
          },
        }, '为TA登记');
        return el('li', { class: 'column' }, el('div', { class: 'row' }, el('span', {}, `${d.name_masked}（${label(RELATIONS, d.relation)}）`), button), into);
      }),
    );
  }
}
