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
  ['/v1/declarations', 'declaration'],
  ['/v1/code', 'code'],
  ['/.well-known/', 'code'],
  ['/v1/venues', 'venue'],
  ['/v1/scans', 'scan'],
  ['/v1/checkins', 'scan'],
  ['/v1/admin/', 'admin'],
];

const STORE = 'hc.api';

/** The API's base URL and layout: ?api= (remembered), else config.js. */
export function apiSettings() {
  const params = new URLSearchParams(location.search);
  const given = params.get('api');
  if (given === 'default') {
    localStorage.removeItem(STORE);
  } else if (given) {
    const base = given.replace(/\/+$/, '');
    const layout = params.get('layout') || (base.endsWith('/lambda-url') ? 'lambda-url' : 'gateway');
    localStorage.setItem(STORE, JSON.stringify({ apiBase: base, layout }));
  }
  try {
    const stored = JSON.parse(localStorage.getItem(STORE));
    if (stored && stored.apiBase) return stored;
  } catch {
    /* fall through to the default */
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

export class ApiError extends Error {
  constructor(status, problem) {
    const code = problem.code || (status ? `http-${status}` : 'network');
    super(ERRORS[code] || problem.title || `请求失败（${status}）`);
    this.status = status;
    this.code = code;
    this.detail = problem.detail || '';
  }
}

/**
 * Calls a route. Options: body (sent as JSON), query, headers, auth (send the
 * session token; default true), as: 'json' | 'blob'. A 401 on an
 * authenticated route ends the session and goes to the login page.
 */
export async function api(method, route, { body, query, headers = {}, auth = true, as = 'json' } = {}) {
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
  if (response.status === 401 && auth) {
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
    throw new ApiError(response.status, problem);
  }
  if (response.status === 204) return null;
  return as === 'blob' ? response.blob() : response.json();
}
