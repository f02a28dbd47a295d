// The browser client's flows against a running local stack (see run.mjs):
// 1. log in → identify → declare → a green code → a second user scans it from
//    the rendered QR image → pass;
// 2. a venue → check-ins (through /v?c= and a photo of the poster) → the
//    authority's dashboard ranks the check-ins; the risk-person import and
//    traces.
// Every page is photographed into web/test-results/, and none may log a
// console error.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { RESULTS, RUN, WEB, freshIdNumber, go, hcctl, launch, phone, sent, shot, shanghaiDay } from './lib.mjs';

let browser;
const phones = [];
const state = {};

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

async function user(who, options) {
  const p = await phone(browser, who, options);
  phones.push(p);
  return p;
}

function assertNoConsoleErrors() {
  const errors = phones.flatMap((p) => p.errors);
  assert.deepEqual(errors, [], 'no page may log a console error');
}

/** Logs in with the development provider; lands on the identity page. */
async function login(p, name, screenshot) {
  await go(p.page, '/index.html');
  await p.page.fill('input[name=name]', `${name}-${RUN}`);
  if (screenshot) await shot(p.page, screenshot);
  await p.page.click('#login button[type=submit]');
  await p.page.waitForURL(/identity\.html/);
}

/** Real-name authentication with a fresh ID number; returns it. */
async function identify(p, name, screenshot) {
  const id = freshIdNumber();
  await p.page.waitForSelector('#identity:not([hidden])');
  await p.page.fill('#identity input[name=name]', sent('name', name));
  await p.page.fill('#identity input[name=id_number]', id);
  await p.page.fill('#identity input[name=phone]', sent('phone', '13812345678'));
  if (screenshot) await shot(p.page, screenshot);
  await p.page.click('#identity button[type=submit]');
  await p.page.waitForSelector('#done:not([hidden])');
  return id;
}

/** Declares: in Shijiazhuang, Chang'an district, 36.5 °C, nothing else. */
async function declare(p, screenshot) {
  await go(p.page, '/declare.html');
  await p.page.waitForSelector('#declare:not([hidden])');
  await p.page.selectOption('select[name=region-city]', '130100');
  await p.page.selectOption('select[name=region-county]', '130102');
  if (screenshot) await shot(p.page, screenshot);
  await p.page.click('#declare button[type=submit]');
  await p.page.waitForSelector('#result:not([hidden]) .code-card');
}

test('a citizen declares, shows a green code, and a guard scans it: pass', async () => {
  const alice = await user('alice');
  await login(alice, 'web-alice', '01-login');
  state.aliceId = await identify(alice, '张晓明', '02-identity');
  assert.equal(await alice.page.textContent('#name'), '张*明');
  await alice.page.click('#continue');
  await alice.page.waitForURL(/declare\.html/);

  await declare(alice, '03-declare');
  const result = alice.page.locator('#result .code-card');
  assert.equal(await result.getAttribute('data-color'), 'green');
  assert.match(await result.textContent(), /未见异常/);
  await shot(alice.page, '04-declared');

  await alice.page.click('#to-code');
  await alice.page.waitForURL(/code\.html/);
  const card = alice.page.locator('#code .code-card');
  await card.locator('img.qr').waitFor();
  await alice.page.waitForFunction(() => [...document.images].every((i) => i.complete));
  assert.equal(await card.getAttribute('data-color'), 'green');
  assert.match(await card.textContent(), /张\*明/);
  assert.match(await card.textContent(), /未见异常/);
  await shot(alice.page, '05-my-code', 'my-code.png');
  // The QR as a person's phone shows it: the rendered image, in its frame.
  const qrPng = await alice.page.locator('#code .qr-frame').screenshot();
  writeFileSync(join(RESULTS, 'alice-code.png'), qrPng);
  // The same as one JPEG frame, for a fake camera (Chromium reads MJPEG files).
  state.cameraFile = join(RESULTS, 'alice-code.mjpeg');
  writeFileSync(state.cameraFile, await alice.page.locator('#code .qr-frame').screenshot({ type: 'jpeg', quality: 95 }));

  const guard = await user('guard');
  await login(guard, 'web-guard');
  await identify(guard, '李卫国');
  await go(guard.page, '/scan.html');
  await guard.page.waitForSelector('#upload');
  await shot(guard.page, '06-scan');
  await guard.page.setInputFiles('#upload', { name: 'code.png', mimeType: 'image/png', buffer: qrPng });
  const verdict = guard.page.locator('.verdict');
  await verdict.waitFor();
  assert.equal(await verdict.getAttribute('data-result'), 'pass');
  assert.equal(await verdict.locator('.name').textContent(), '张*明');
  assert.match(await verdict.locator('.id').textContent(), /^130102\*{8}\d{3}[\dX]$/);
  assert.match(await verdict.textContent(), /通行/);
  await shot(guard.page, '07-scan-pass');

  state.alice = alice;
  assertNoConsoleErrors();
});

test('a guard scans a code with the camera', async () => {
  assert.ok(state.cameraFile, 'the first flow ran');
  // A browser whose camera films the code alice shows.
  const camera = await launch([
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${state.cameraFile}`,
  ]);
  try {
    const guard = await phone(camera, 'camera-guard', { permissions: ['camera'] });
    phones.push(guard);
    await login(guard, 'web-camera-guard');
    await identify(guard, '赵建华');
    await go(guard.page, '/scan.html');
    await guard.page.click('#camera');
    const verdict = guard.page.locator('.verdict');
    await verdict.waitFor();
    assert.equal(await verdict.getAttribute('data-result'), 'pass');
    assert.equal(await verdict.locator('.name').textContent(), '张*明');
    await shot(guard.page, '07b-scan-camera');
    assert.equal(await guard.page.locator('#video').evaluate((v) => v.srcObject), null, 'the camera is off after a scan');
  } finally {
    await camera.close();
  }
  assertNoConsoleErrors();
});

test('a guardian claims a code for a dependent; its red hints show', async () => {
  const { alice } = state;
  assert.ok(alice, 'the first flow ran');
  await go(alice.page, '/code.html');
  await alice.page.locator('#code .code-card').waitFor();
  await alice.page.click('#add-dependent summary');
  await alice.page.fill('#dependent input[name=name]', sent('name', '张小宝'));
  await alice.page.fill('#dependent input[name=id_number]', freshIdNumber('130104'));
  await alice.page.selectOption('#relation', 'child');
  await shot(alice.page, '18-dependent-add');
  await alice.page.click('#dependent button[type=submit]');

  // Straight to the dependent's first declaration: fever with a cough.
  await alice.page.waitForURL(/declare\.html\?subject=s_/);
  await alice.page.waitForSelector('#declare:not([hidden])');
  assert.match(await alice.page.textContent('#subjects button.active'), /张\*宝（子女）/);
  await alice.page.selectOption('select[name=region-city]', '130100');
  await alice.page.selectOption('select[name=region-county]', '130104');
  await alice.page.fill('#declare input[name=temperature]', '38.2');
  await alice.page.check('#declare input[name=symptoms][value=fever]');
  await alice.page.check('#declare input[name=symptoms][value=cough]');
  await alice.page.click('#declare button[type=submit]');
  const result = alice.page.locator('#result .code-card');
  await result.waitFor();
  assert.equal(await result.getAttribute('data-color'), 'red');
  assert.match(await result.textContent(), /申报发热伴呼吸道症状/);

  await alice.page.click('#to-code');
  await alice.page.waitForURL(/code\.html\?subject=s_/);
  const card = alice.page.locator('#code .code-card');
  await card.locator('img.qr').waitFor();
  assert.equal(await card.getAttribute('data-color'), 'red');
  assert.match(await card.locator('.hints').textContent(), /申报发热伴呼吸道症状/);
  assert.match(await card.textContent(), /请进行健康状态核验/);
  await shot(alice.page, '19-dependent-code');

  // Switching back to the guardian's own code.
  await alice.page.click('#subjects button[data-subject=""]');
  await alice.page.locator('#code .code-card[data-color=green]').waitFor();
  assert.match(await alice.page.locator('#code .code-card').textContent(), /张\*明/);
  assertNoConsoleErrors();
});

test('a venue code, check-ins through /v?c= and a poster photo, and the dashboard ranks them', async () => {
  const { alice } = state;
  assert.ok(alice, 'the first flow ran');

  // The venue's applicant.
  const owner = await user('owner');
  await login(owner, 'web-owner');
  await identify(owner, '王芳');
  // The contract answers "no venue yet" with 404, which the browser logs.
  owner.expect(404, '/v1/venues/mine');
  await go(owner.page, '/venue.html');
  await owner.page.waitForSelector('#apply:not([hidden])');
  const venueName = `幸福里超市${RUN.slice(-4)}`;
  await owner.page.fill('#apply input[name=name]', venueName);
  await owner.page.fill('#apply input[name=address]', '建设北大街 1 号');
  await owner.page.selectOption('select[name=venue-region-city]', '130100');
  await owner.page.selectOption('select[name=venue-region-county]', '130102');
  await owner.page.selectOption('#category', 'commerce');
  await shot(owner.page, '08-venue-apply');
  await owner.page.click('#apply button[type=submit]');
  await owner.page.waitForSelector('#mine:not([hidden])');
  await owner.page.waitForFunction(() => document.querySelector('#poster').complete && document.querySelector('#poster').naturalWidth > 0);
  const venueId = (await owner.page.textContent('.venue-id')).trim();
  const qr = (await owner.page.textContent('#qr-content')).trim();
  assert.match(venueId, /^v_/);
  assert.match(qr, /\?c=/);
  await shot(owner.page, '09-venue');

  const [download] = await Promise.all([owner.page.waitForEvent('download'), owner.page.click('#download-png')]);
  const poster = readFileSync(await download.path());
  assert.deepEqual([...poster.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'the PNG poster is a PNG');
  writeFileSync(join(RESULTS, 'venue-poster.png'), poster);
  const [svgDownload] = await Promise.all([owner.page.waitForEvent('download'), owner.page.click('#download-svg')]);
  assert.match(readFileSync(await svgDownload.path(), 'utf8'), /<svg/);

  // A visitor "scans it with WeChat": the QR's URL opens /v?c=<token> of this web server.
  const token = new URL(qr).searchParams.get('c');
  await alice.page.goto(`${WEB}/v?c=${encodeURIComponent(token)}`);
  const entered = alice.page.locator('.checkin-result');
  await entered.waitFor();
  assert.equal((await entered.locator('.venue-name').textContent()).trim(), venueName);
  assert.equal(await entered.locator('.code-card').getAttribute('data-color'), 'green');
  await shot(alice.page, '10-checkin-v');
  // Reloading the page logs no second entry (same Idempotency-Key).
  const first = await entered.locator('.entered-at').textContent();
  await alice.page.reload();
  await alice.page.locator('.checkin-result').waitFor();
  assert.equal(await alice.page.locator('.entered-at').textContent(), first);

  // The applicant declares, then checks in with a photo of the poster.
  await declare(owner);
  await go(owner.page, '/checkin.html');
  await owner.page.setInputFiles('#checkin input[name=photo]', { name: 'poster.png', mimeType: 'image/png', buffer: poster });
  await owner.page.locator('.checkin-result').waitFor();
  assert.equal((await owner.page.locator('.checkin-result .venue-name').textContent()).trim(), venueName);
  await shot(owner.page, '11-checkin-photo');

  await go(owner.page, '/venue.html');
  await owner.page.waitForSelector('#entries li');
  assert.equal(await owner.page.locator('#entries li').count(), 2);
  assert.match(await owner.page.textContent('#entries'), /张\*明/);
  await shot(owner.page, '12-venue-entries');

  // The authority: a role granted with hcctl, and the rankings counted.
  const officer = await user('officer', { viewport: { width: 1280, height: 900 } });
  await go(officer.page, '/index.html');
  await officer.page.fill('input[name=name]', `web-officer-${RUN}`);
  await officer.page.click('#login button[type=submit]');
  await officer.page.waitForURL(/identity\.html/);
  const officerId = await officer.page.evaluate(() => JSON.parse(localStorage.getItem('hc.session')).user.id);
  const granted = hcctl('roles', 'grant', '--user', officerId, '--role', 'authority');
  assert.equal(granted.status, 0, `hcctl roles grant: ${granted.stderr}`);
  const aggregated = hcctl('aggregate');
  assert.equal(aggregated.status, 0, `hcctl aggregate: ${aggregated.stderr}`);

  await go(officer.page, '/admin.html');
  const city = officer.page.locator('#ranking-table tr[data-region="130100"]');
  await city.waitFor();
  const cells = async (row) => (await row.locator('td').allTextContents()).map((t) => t.trim());
  const [, cityName, , , , cityCheckins] = await cells(city);
  assert.equal(cityName, '石家庄市');
  assert.ok(Number(cityCheckins) >= 2, `Shijiazhuang's check-ins today: ${cityCheckins}`);
  assert.equal(await officer.page.locator('#chart svg rect').count() > 0, true, 'the bar chart has bars');
  await shot(officer.page, '13-dashboard', 'dashboard.png');

  await officer.page.selectOption('#ranking-form select[name=level]', 'county');
  const county = officer.page.locator('#ranking-table tr[data-region="130102"]');
  await county.waitFor();
  const [, countyName, , , , countyCheckins] = await cells(county);
  assert.equal(countyName, '长安区');
  assert.ok(Number(countyCheckins) >= 2, `Chang'an's check-ins today: ${countyCheckins}`);

  // The risk-person import: a report per CSV line (header = line 1).
  const today = shanghaiDay();
  const csv = [
    'id_number,status,since',
    `${freshIdNumber('130203')},close-contact,${today}`, // 2: a person not registered yet
    '130102199001011230,confirmed,2026-01-01', //           3: bad check character
    `${freshIdNumber('130203')},unknown,${today}`, //        4: bad status
    '', //                                                    5: blank, skipped
    `${freshIdNumber('130203')},suspected,2999-01-01`, //    6: in the future
    `${freshIdNumber('130203')},cleared`, //                  7: a column missing
  ].join('\r\n');
  await officer.page.setInputFiles('#risk-form input[name=file]', { name: 'risk.csv', mimeType: 'text/csv', buffer: Buffer.from(`\uFEFF${csv}\r\n`) });
  await officer.page.click('#risk-form button[type=submit]');
  await officer.page.locator('.risk-summary').waitFor();
  assert.match(await officer.page.textContent('.risk-summary .unmatched'), /^1 人/);
  assert.match(await officer.page.textContent('.risk-summary .applied'), /^0 人/);
  const lines = await officer.page.locator('.risk-errors tbody tr').evaluateAll((rows) => rows.map((r) => Number(r.dataset.line)));
  assert.deepEqual(lines, [3, 4, 6, 7]);
  await shot(officer.page, '14-risk-import');

  // Tracing: everyone who entered the venue, then one of them.
  await officer.page.fill('#trace-form input[name=id]', venueId);
  await officer.page.click('#trace-form button[type=submit]');
  await officer.page.locator('.trace-table tbody tr').first().waitFor();
  assert.equal(await officer.page.locator('.trace-table tbody tr').count(), 2);
  assert.match(await officer.page.textContent('.trace-table'), /张晓明/);
  assert.match(await officer.page.textContent('.trace-table'), new RegExp(state.aliceId));
  const [traceCsv] = await Promise.all([officer.page.waitForEvent('download'), officer.page.click('#trace-csv')]);
  const text = readFileSync(await traceCsv.path(), 'utf8');
  assert.match(text, /^\uFEFF进入时间,姓名,身份证号,手机号,健康码,人员编号\r\n/);
  assert.match(text, new RegExp(`张晓明,${state.aliceId},13812345678,绿码`));
  await shot(officer.page, '15-trace-venue');
  await officer.page.locator('.trace-table tbody tr', { hasText: '张晓明' }).locator('button').click();
  await officer.page.locator('.trace-visits tbody tr').first().waitFor();
  assert.match(await officer.page.textContent('.trace-visits'), new RegExp(venueName));
  await shot(officer.page, '16-trace-person');

  // The dashboard on a phone.
  await officer.page.setViewportSize({ width: 390, height: 844 });
  await go(officer.page, '/admin.html');
  await officer.page.locator('#ranking-table tbody tr').first().waitFor();
  await shot(officer.page, '17-dashboard-phone');

  assertNoConsoleErrors();
});
