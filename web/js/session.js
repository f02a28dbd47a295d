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

/** A path of this site to go back to after logging in; anything else is dropped. */
export function safeNext(value) {
  return typeof value === 'string' && value.startsWith('/') && !value.startsWith('//') && !value.includes('\\') ? value : null;
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
