// What the browser tests share: the stack's addresses, the browser, phones
// (browser contexts of 390×844 whose console errors are collected), page
// screenshots, hcctl, and valid resident ID numbers.
import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const WEB_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = join(WEB_DIR, '..');
export const RESULTS = join(WEB_DIR, 'test-results');
export const WEB = (process.env.HC_WEB_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
export const API = (process.env.HC_API_BASE || 'http://127.0.0.1:9000/lambda-url').replace(/\/+$/, '');
export const HCCTL = process.env.HC_HCCTL || join(ROOT, 'target/debug/hcctl');
const CHROMIUM = process.env.HC_CHROMIUM || '/usr/bin/chromium';

/** Unique to this run, so that the tests can run again against the same stack. */
export const RUN = Date.now().toString(36);

export const PHONE = { width: 390, height: 844 };

const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic', '--lang=zh-CN',
];

/**
 * Debian's Chromium, headless. Playwright starts it with a fresh temporary
 * user-data-dir of its own and removes it on close; every user of a test
 * gets a context (cookies, storage) of their own.
 */
export function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: CHROMIUM, headless: true, args: [...ARGS, ...extraArgs],
    // Chinese date pickers.
    env: { ...process.env, LANG: 'zh_CN.UTF-8', LANGUAGE: 'zh_CN:zh' },
  });
}

/**
 * A phone of one user: a page whose console errors, uncaught exceptions and
 * Content-Security-Policy violations are collected in `errors`, for the test
 * to assert that there are none.
 */
export async function phone(browser, who, { viewport = PHONE, permissions = [] } = {}) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 2, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', acceptDownloads: true });
  if (permissions.length) await context.grantPermissions(permissions, { origin: WEB });
  const page = await context.newPage();
  const errors = [];
  // Error responses the API's contract makes part of a normal flow, announced by the test (see `expect`).
  const expected = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = `${msg.text()} (${msg.location().url || page.url()})`;
    const i = expected.findIndex((pattern) => pattern.test(text));
    if (i >= 0) expected.splice(i, 1);
    else errors.push(`${who}: console: ${text}`);
  });
  page.on('pageerror', (err) => errors.push(`${who}: uncaught: ${err.message}`));
  // Every page of every test: anything the pages' policy blocks is a fault of the page.
  await context.exposeBinding('hcCspViolation', ({ frame }, v) => errors.push(`${who}: CSP violation: ${v.directive} blocked ${v.blocked} (${frame.url()})`));
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.hcCspViolation({ directive: e.violatedDirective, blocked: e.blockedURI || e.sample || '(inline)' });
    });
  });
  page.on('requestfailed', (req) => {
    // Leaving a page aborts its requests (ERR_ABORTED); anything else should load.
    if (req.failure()?.errorText !== 'net::ERR_ABORTED') errors.push(`${who}: request failed: ${req.method()} ${req.url()} ${req.failure()?.errorText}`);
  });
  // Generous: a function of `cargo lambda watch` may start (cargo run) in the middle of a test.
  page.setDefaultTimeout(60_000);
  return {
    who, context, page, errors,
    /** The browser will log this failed response once: not an error of the page's. */
    expect(status, route) {
      const escaped = route.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      expected.push(new RegExp(`status of ${status} .*\\(.*${escaped}\\)$`));
    },
  };
}

/** Opens a page of web/ with the API base of this stack. */
export async function go(page, path) {
  const url = new URL(WEB + path);
  url.searchParams.set('api', API);
  await page.goto(url.toString());
}

/**
 * A full-page screenshot into web/test-results/; with HC_UPDATE_SCREENSHOTS=1,
 * a copy of the named ones into docs/screenshots/ (those the README shows), so
 * that an ordinary test run leaves the checkout clean.
 */
export async function shot(page, name, docsName) {
  mkdirSync(RESULTS, { recursive: true });
  const path = join(RESULTS, `${name}.png`);
  // Usable on a phone: nothing wider than the screen.
  const viewport = page.viewportSize();
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  if (scrollWidth > viewport.width) throw new Error(`${name}: the page is ${scrollWidth} px wide on a ${viewport.width} px screen`);
  // The whole page as one tall screen, so that the sticky tab bar ends it.
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  if (height > viewport.height) await page.setViewportSize({ width: viewport.width, height });
  await page.screenshot({ path });
  if (height > viewport.height) await page.setViewportSize(viewport);
  if (docsName && process.env.HC_UPDATE_SCREENSHOTS === '1') {
    mkdirSync(join(ROOT, 'docs/screenshots'), { recursive: true });
    copyFileSync(path, join(ROOT, 'docs/screenshots', docsName));
  }
  return path;
}

/** Runs hcctl against the stack's tables; returns {status, stdout, stderr}. */
export function hcctl(...args) {
  const env = {
    ...process.env,
    AWS_ENDPOINT_URL_DYNAMODB: process.env.AWS_ENDPOINT_URL_DYNAMODB || 'http://127.0.0.1:8000',
    HC_TABLE_PREFIX: process.env.HC_TABLE_PREFIX || 'hc-',
  };
  const result = spawnSync(HCCTL, args, { env, encoding: 'utf8', timeout: 120_000 });
  if (result.error) throw result.error;
  return result;
}

/** A valid 18-character resident ID number (GB 11643) of a division, a birth day and a sequence. */
export function idNumber(division, birth, sequence) {
  const body = `${division}${birth}${String(sequence).padStart(3, '0')}`;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...body].reduce((s, c, i) => s + Number(c) * weights[i], 0);
  return body + '10X98765432'[sum % 11];
}

/** A fresh ID number for each person of each run: random birth day and sequence. */
export function freshIdNumber(division = '130102') {
  const day = new Date(Date.UTC(1950, 0, 1) + Math.floor(Math.random() * 50 * 365) * 86_400_000);
  const birth = day.toISOString().slice(0, 10).replace(/-/g, '');
  return sent('ID', idNumber(division, birth, Math.floor(Math.random() * 1000)));
}

/**
 * Records a name, ID number or phone this run sends in .local/sent/web.txt,
 * which tests/e2e/no_personal_data.py searches the logs for; returns it.
 */
export function sent(kind, value) {
  mkdirSync(join(ROOT, '.local', 'sent'), { recursive: true });
  appendFileSync(join(ROOT, '.local', 'sent', 'web.txt'), `${kind}\t${value}\n`);
  return value;
}

/** Today on the Asia/Shanghai calendar. */
export function shanghaiDay() {
  return new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
}

/** A route of the API, as a client calls it; throws on a status other than `ok`. */
export async function call(method, fn, route, { token, body, ok = [200, 201] } = {}) {
  const response = await fetch(`${API}/${fn}${route}`, {
    method,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  if (!ok.includes(response.status)) throw new Error(`${method} ${route}: ${response.status}`);
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** A plain declaration: green, at home in 长安区. */
export const declaration = { region: '130102', temperature: 36.5, symptoms: [], close_contact: false, visited_regions: [], from_abroad: false };
