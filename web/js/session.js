// The session of this browser: the token of POST /v1/login (or of
// POST /v1/identity, which names the subject) and the user it belongs to.
const KEY = 'hc.session';

export function getSession() {
  let session;
  try {
    session = JSON.parse(localStorage.getItem(KEY));
  } catch {
    return null;
  }
  if (!session || !session.token || Date.parse(session.expires_at) <= Date.now()) return null;
  return session;
}

export function setSession({ token, expires_at, user }) {
  localStorage.setItem(KEY, JSON.stringify({ token, expires_at, user }));
}

/** Keeps the token, updates what the page knows of the user (from GET /v1/me). */
export function updateUser(user) {
  const session = getSession();
  if (session) setSession({ ...session, user: { ...session.user, ...user } });
}

export function clearSession() {
  localStorage.removeItem(KEY);
}

// The folder of the pages (the one above js/), and the pages a login may return to.
const SITE = new URL('../', import.meta.url);
const PAGES = ['code.html', 'declare.html', 'identity.html', 'checkin.html', 'v', 'v.html', 'scan.html', 'venue.html', 'admin.html'];
// Whitespace, control characters and backslashes: URL parsing drops or rewrites them (/\t/evil.example is //evil.example).
const UNSAFE = /[\u0000-\u0020\u007f-\u009f\\]/;

/**
 * A page of this site to go back to after logging in, as a path (with its
 * query), or null: only a relative path that stays on this origin after
 * decoding and the browser's URL parsing, and names one of our pages.
 */
export function safeNext(value) {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//')) return null;
  let decoded;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    return null;
  }
  if (UNSAFE.test(value) || UNSAFE.test(decoded) || decoded.startsWith('//')) return null;
  let url;
  try {
    url = new URL(value, location.origin);
  } catch {
    return null;
  }
  if (url.origin !== location.origin || !url.pathname.startsWith(SITE.pathname)) return null;
  if (!PAGES.includes(url.pathname.slice(SITE.pathname.length))) return null;
  return url.pathname + url.search + url.hash;
}

function here() {
  return location.pathname + location.search;
}

export function loginUrl(next = here()) {
  return `index.html?next=${encodeURIComponent(next)}`;
}

export function identityUrl(next = here()) {
  return `identity.html?next=${encodeURIComponent(next)}`;
}

/**
 * The session, or a redirect to the login page (and, with `verified`, to
 * real-name authentication) that never resolves.
 */
export function requireSession({ verified = false } = {}) {
  const session = getSession();
  if (!session) {
    location.replace(loginUrl());
    return new Promise(() => {});
  }
  if (verified && !session.user.verified) {
    location.replace(identityUrl());
    return new Promise(() => {});
  }
  return Promise.resolve(session);
}
