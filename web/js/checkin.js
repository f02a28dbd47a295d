// Venue check-in (扫码登记, POST /v1/checkins), shared by checkin.html and v.html.
import { api } from './api.js';
import { CATEGORIES, label } from './labels.js';
import { codeCard, el, formatTime } from './ui.js';

/** Logs an entry; `key` (Idempotency-Key) makes a retry log nothing more. */
export function checkIn(venueCode, subjectId, key) {
  const body = { venue_code: venueCode };
  if (subjectId) body.subject_id = subjectId;
  return api('POST', '/v1/checkins', { body, headers: { 'idempotency-key': key } });
}

/** The answer as the visitor shows it to the staff at the door. */
export function checkinResult({ venue, entered_at, code }) {
  return el('div', { class: 'checkin-result' },
    el('section', { class: 'card' },
      el('p', { class: 'msg ok' }, '登记成功'),
      el('h2', { class: 'venue-name' }, venue.name),
      el('dl', { class: 'facts' },
        el('dt', {}, '地址'), el('dd', {}, venue.address),
        el('dt', {}, '类型'), el('dd', {}, label(CATEGORIES, venue.category)),
        el('dt', {}, '进入时间'), el('dd', { class: 'entered-at' }, formatTime(entered_at)))),
    liveClock(codeCard(code, { title: '请向门口工作人员出示' })));
}

/** Adds the ticking Beijing time to a code card: staff can tell it from a screenshot. */
function liveClock(card) {
  const clock = el('p', { class: 'clock' }, formatTime(new Date()));
  const timer = setInterval(() => {
    if (!clock.isConnected) clearInterval(timer);
    else clock.textContent = formatTime(new Date());
  }, 1000);
  card.append(clock);
  return card;
}
