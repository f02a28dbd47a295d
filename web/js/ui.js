// Small helpers shared by the pages: building DOM, the page frame (header and
// tabs), messages, times on the Asia/Shanghai calendar, the health-code card.
import { api, apiSettings, refusedApi } from './api.js';
import { COLORS } from './labels.js';
import { clearSession, getSession } from './session.js';

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** el('p', {class: 'x', onclick: f}, 'text', child, ...): text is never parsed as HTML. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

const TABS = [
  ['code', 'code.html', '健康码'],
  ['declare', 'declare.html', '健康申报'],
  ['checkin', 'checkin.html', '扫码登记'],
  ['scan', 'scan.html', '验码'],
  ['venue', 'venue.html', '场所码'],
];

/** The header (who is logged in, log out) and the tab bar of the citizen pages. */
export function frame(active) {
  const session = getSession();
  const header = $('header.bar');
  if (header) {
    header.querySelector('.who')?.remove();
    const user = session && session.user;
    const who = el('div', { class: 'who' });
    if (user) {
      who.append(el('span', {}, user.verified ? user.name_masked || '已实名' : '未实名'));
      if ((user.roles || []).includes('authority')) who.append(el('a', { href: 'admin.html' }, '管理后台'));
      who.append(el('button', { type: 'button', class: 'link', id: 'logout', onclick: logout }, '退出'));
    }
    header.append(who);
  }
  // A link that named an API not on config.js's allow-list: said so, and the default is used.
  if (refusedApi() && !$('#api-refused')) {
    $('main')?.prepend(el('div', { class: 'msg error', id: 'api-refused', role: 'alert' },
      `链接中的 API 地址不在允许列表中，已忽略；本页使用 ${apiSettings().apiBase}。`));
  }
  const nav = $('nav.tabs');
  if (nav) {
    nav.replaceChildren();
    for (const [key, href, text] of TABS) {
      nav.append(el('a', { href, class: key === active ? 'active' : null, 'aria-current': key === active ? 'page' : null }, text));
    }
  }
}

/**
 * Logs out: POST /v1/logout (the token is then refused everywhere), forgets
 * the session and goes to the login page, even if the call fails (the token
 * is gone from this browser either way).
 */
async function logout(event) {
  event.target.disabled = true;
  try {
    await api('POST', '/v1/logout', { relogin: false });
  } catch {
    /* already refused, or unreachable */
  }
  clearSession();
  location.replace('index.html');
}

/** Shows a message (an ApiError or text) in a box; kind: 'error' | 'ok' | 'info'. */
export function message(box, what, kind = 'error') {
  box.replaceChildren();
  if (!what) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  box.className = `msg ${kind}`;
  box.append(el('span', {}, typeof what === 'string' ? what : what.message));
  // The API's details are English; shown only where the Chinese message cannot say which field is wrong.
  if (what && what.detail && ['invalid-declaration', 'invalid-venue', 'bad-request'].includes(what.code)) box.append(el('small', {}, what.detail));
}

/** Disables a form's buttons while `work` runs. */
export async function busy(form, work) {
  const buttons = $$('button', form);
  buttons.forEach((b) => { b.disabled = true; });
  try {
    return await work();
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

const TZ = 'Asia/Shanghai';
const parts = (date, options) =>
  Object.fromEntries(new Intl.DateTimeFormat('en-GB', { timeZone: TZ, hourCycle: 'h23', ...options }).formatToParts(date).map((p) => [p.type, p.value]));

/** 2026-11-26 08:00:00, Beijing time. */
export function formatTime(value) {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return '';
  const p = parts(date, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

/** Today on the Asia/Shanghai calendar, YYYY-MM-DD. */
export function shanghaiDay(date = new Date()) {
  const p = parts(date, { year: 'numeric', month: '2-digit', day: '2-digit' });
  return `${p.year}-${p.month}-${p.day}`;
}

/** A `datetime-local` value (Beijing time, to the minute) as RFC 3339; `seconds` of that minute. */
export function fromLocalInput(value, seconds = 0) {
  if (!value) return '';
  return `${value.length === 16 ? `${value}:${String(seconds).padStart(2, '0')}` : value}+08:00`;
}

/** An SVG document as an <img>, so that nothing in it can run. */
export function svgImage(svg, alt, attrs = {}) {
  return el('img', { src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`, alt, ...attrs });
}

/**
 * The health code as shown: the QR in a frame of its colour, the masked
 * name, 未见异常 or the red hints. `view` is the code of GET /v1/code or of a
 * check-in.
 */
export function codeCard(view, { title } = {}) {
  const hints = view.hints || [];
  return el(
    'section',
    { class: `code-card ${view.color}`, dataset: { color: view.color } },
    el('div', { class: 'code-head' }, el('span', { class: 'name' }, view.name_masked || ''), el('span', { class: 'color-label' }, COLORS[view.color] || view.color)),
    title ? el('p', { class: 'code-title' }, title) : null,
    el('div', { class: 'qr-frame' }, svgImage(view.qr_svg, `${COLORS[view.color] || ''}二维码`, { class: 'qr' })),
    hints.length
      ? el('div', { class: 'status verify' }, el('p', { class: 'status-text' }, view.status_text), el('ul', { class: 'hints' }, hints.map((h) => el('li', {}, h))))
      : el('div', { class: 'status pass' }, el('p', { class: 'status-text' }, view.status_text || '未见异常')),
  );
}

/** Offers a Blob as a file download. */
export function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = el('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** CSV text (RFC 4180), with a BOM so that spreadsheet programs read it as UTF-8. */
export function toCsv(rows) {
  const cell = (v) => {
    const s = v === null || v === undefined ? '' : String(v);
    // A leading = + - @ would be a formula in a spreadsheet.
    const safe = /^[=+\-@]/.test(s) ? `'${s}` : s;
    return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  return `\uFEFF${rows.map((r) => r.map(cell).join(',')).join('\r\n')}\r\n`;
}

/** A key for POST /v1/checkins: one per intended entry, reused on retry. */
export function newIdempotencyKey() {
  // getRandomValues works outside secure contexts too (a phone on the LAN).
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
}
