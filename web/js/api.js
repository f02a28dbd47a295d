// The HTTP API: where each route is served, the session header, and
// problem+json errors turned into ApiError with a Chinese message.
import config from '../config.js';
import { ERRORS } from './labels.js';
import { clearSession, getSession, loginUrl } from './session.js';

// Which function serves a route (docs/openapi.yaml, API.md).
const FUNCTIONS = [
  ['/v1/login', 'login'],
  ['/v1/identity', 'login'],
  ['/v1/me', 'login'],
  ['/v1/dependents', 'login'],
  ['/v1/guardians', 'login'],
  ['/v1/logout', 'login'],
  ['/v1/declarations', 'declaration'],
  ['/v1/appeals', 'declaration'],
  ['/v1/code', 'code'],
  ['/.well-known/', 'code'],
  ['/v1/venues', 'venue'],
  ['/v1/scans', 'scan'],
  ['/v1/checkins', 'scan'],
  ['/v1/admin/', 'admin'],
];

const STORE = 'hc.api';
const LAYOUTS = ['lambda-url', 'gateway'];

/** An API base URL as it is stored and called: http(s), no credentials, no query, no trailing /; else null. */
function parseBase(value) {
  let url;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.username || url.password) return null;
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** Whether pages may call this base: its origin is that of config.js's apiBase or of one of its allowedApis. */
export function allowedApi(value) {
  const base = parseBase(value);
  if (!base) return false;
  const origin = new URL(base).origin;
  return [config.apiBase, ...(config.allowedApis || [])].some((a) => parseBase(a) && new URL(parseBase(a)).origin === origin);
}

/** The ?api= of this page when it was refused (not on the allow-list of config.js), else null. */
export function refusedApi() {
  const given = new URLSearchParams(location.search).get('api');
  return given && given !== 'default' && !allowedApi(given) ? given : null;
}

/**
 * The API's base URL and layout: ?api= (remembered) when config.js allows it,
 * else config.js. A remembered base that is no longer allowed is forgotten.
 */
export function apiSettings() {
  const params = new URLSearchParams(location.search);
  const given = params.get('api');
  if (given === 'default') {
    localStorage.removeItem(STORE);
  } else if (given && allowedApi(given)) {
    const base = parseBase(given);
    const wanted = params.get('layout');
    const layout = LAYOUTS.includes(wanted) ? wanted : base.endsWith('/lambda-url') ? 'lambda-url' : 'gateway';
    localStorage.setItem(STORE, JSON.stringify({ apiBase: base, layout }));
  }
  const raw = localStorage.getItem(STORE);
  if (raw !== null) {
    let stored = null;
    try {
      stored = JSON.parse(raw);
    } catch {
      /* forgotten below */
    }
    if (stored && typeof stored.apiBase === 'string' && parseBase(stored.apiBase) === stored.apiBase && allowedApi(stored.apiBase) && LAYOUTS.includes(stored.layout)) {
      return { apiBase: stored.apiBase, layout: stored.layout };
    }
    localStorage.removeItem(STORE);
  }
  return { apiBase: config.apiBase.replace(/\/+$/, ''), layout: config.layout };
}

export function routeUrl(route, query) {
  const { apiBase, layout } = apiSettings();
  let url = apiBase;
  if (layout === 'lambda-url') {
    const entry = FUNCTIONS.find(([prefix]) => route.startsWith(prefix));
    if (!entry) throw new Error(`no function serves ${route}`);
    url += `/${entry[1]}`;
  }
  url += route;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') params.set(k, v);
  }
  const qs = params.toString();
  return qs ? `${url}?${qs}` : url;
}

/** Retry-After (seconds, or an HTTP date) as Chinese words: "30 秒", "5 分钟", "3 小时"; null when absent. */
export function waitText(retryAfter) {
  if (retryAfter === null || retryAfter === undefined || retryAfter === '') return null;
  let seconds = /^\d+$/.test(retryAfter) ? Number(retryAfter) : Math.round((Date.parse(retryAfter) - Date.now()) / 1000);
  if (!Number.isFinite(seconds)) return null;
  seconds = Math.max(1, seconds);
  if (seconds < 120) return `${seconds} 秒`;
  if (seconds < 7200) return `${Math.ceil(seconds / 60)} 分钟`;
  return `${Math.ceil(seconds / 3600)} 小时`;
}

export class ApiError extends Error {
  constructor(status, problem, retryAfter = null) {
    const code = problem.code || (status ? `http-${status}` : 'network');
    const wait = status === 429 ? waitText(retryAfter) : null;
    const text = status === 429
      ? `操作过于频繁，请${wait ? `在 ${wait}后` : '稍后'}再试`
      : ERRORS[code] || problem.title || `请求失败（${status}）`;
    super(text);
    this.status = status;
    this.code = code;
    this.detail = problem.detail || '';
    this.retryAfter = retryAfter;
  }
}

/**
 * Calls a route. Options: body (sent as JSON), query, headers, auth (send the
 * session token; default true), as: 'json' | 'blob'. A 401 on an
 * authenticated route ends the session and goes to the login page (unless
 * relogin is false: then it is thrown like any error). A 429 is an ApiError
 * whose message says when to try again (Retry-After).
 */
export async function api(method, route, { body, query, headers = {}, auth = true, as = 'json', relogin = true } = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (auth) {
    const session = getSession();
    if (session) init.headers.authorization = `Bearer ${session.token}`;
  }
  let response;
  try {
    response = await fetch(routeUrl(route, query), init);
  } catch {
    throw new ApiError(0, { code: 'network' });
  }
  if (response.status === 401 && auth && relogin) {
    clearSession();
    location.replace(loginUrl());
    return new Promise(() => {});
  }
  if (!response.ok) {
    let problem = {};
    try {
      problem = await response.json();
    } catch {
      /* not problem+json: keep the status */
    }
    throw new ApiError(response.status, problem, response.headers.get('retry-after'));
  }
  if (response.status === 204) return null;
  return as === 'blob' ? response.blob() : response.json();
}
