// The browser client's flows against a running local stack (see run.mjs):
// 1. log in → identify → declare → a green code → a second user scans it from
//    the rendered QR image → pass;
// 2. a venue → check-ins (through /v?c= and a photo of the poster) → the
//    authority's dashboard ranks the check-ins; the risk-person import and
//    traces.
// 3. an exposure marked from a trace: its progress, the contacts' CSV, the
//    visitors' yellow codes and notices, and the withdrawal;
// 4. guardians by invitation, and the owner removing one; logout; a clear
//    message on 429;
// 5. the client's defences: ?api= only from config.js's allow-list, the
//    return path after login only to our pages, the Content-Security-Policy.
// Every page is photographed into web/test-results/, and none may log a
// console error or violate the pages' Content-Security-Policy.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { API, RESULTS, RUN, WEB, freshIdNumber, go, hcctl, launch, phone, sent, shot, shanghaiDay } from './lib.mjs';

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

test('a code of another province: the guard sees its issuer and that its colour is not live', async () => {
  // A partner province of this run: its Ed25519 key, its JWK Set on our trust list, a code it signed.
  const { generateKeyPairSync, sign } = await import('node:crypto');
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const issuer = `https://hc.beijing-${RUN}.test`;
  const prefix = `BJ${RUN.toUpperCase()}:1:`;
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: `bj-${RUN}`, alg: 'EdDSA', use: 'sig' };
  const jwksFile = join(RESULTS, `partner-${RUN}.jwks.json`);
  writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
  const added = hcctl('trust', 'add', '--issuer', issuer, '--prefix', prefix, '--jwks', jwksFile);
  assert.equal(added.status, 0, added.stderr);
  const b64 = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'EdDSA', kid: jwk.kid, typ: 'JWT' })}.${b64({ iss: issuer, sub: `bj-${RUN}`, col: 'yellow', iat: now - 30, exp: now + 300 })}`;
  const code = `${prefix}${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`;

  const guard = await user('border-guard');
  await login(guard, 'web-border-guard');
  await identify(guard, '钱国强');
  await go(guard.page, '/scan.html');
  // A handheld scanner types the content and Enter.
  await guard.page.fill('#content', code);
  await guard.page.press('#content', 'Enter');
  const verdict = guard.page.locator('.verdict');
  await verdict.waitFor();
  assert.equal(await verdict.getAttribute('data-result'), 'verify');
  assert.equal(await verdict.getAttribute('data-live'), 'false');
  assert.equal(await verdict.locator('.issuer').textContent(), issuer);
  assert.equal(await verdict.locator('.color').textContent(), '黄码');
  assert.match(await verdict.locator('.not-live').textContent(), /非本省实时状态/);
  assert.equal(await verdict.locator('.name').count(), 0, 'no name for a person we hold nothing on');
  await shot(guard.page, '07c-scan-other-province');

  // A code under a prefix nobody trusts: refused by the server, said on the page.
  await guard.page.click('.verdict + button');
  guard.expect(422, '/v1/scans');
  await guard.page.fill('#content', code.replace(prefix, 'XXHC:1:'));
  await guard.page.press('#content', 'Enter');
  await guard.page.locator('#msg.error').waitFor();
  assert.match(await guard.page.locator('#msg.error').textContent(), /互认名单/);
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

  // By default the notice's fourteen units: the cities, 定州, 辛集 and 雄安新区.
  await go(officer.page, '/admin.html');
  const city = officer.page.locator('#ranking-table tr[data-region="130100"]');
  await city.waitFor();
  assert.equal(await officer.page.inputValue('#ranking-form select[name=level]'), 'unit');
  assert.equal(await officer.page.locator('#ranking-table tbody tr').count(), 14);
  const cells = async (row) => (await row.locator('td').allTextContents()).map((t) => t.trim());
  assert.equal((await cells(officer.page.locator('#ranking-table tr[data-region="133100"]')))[1], '雄安新区');
  const [, cityName, , , , cityCheckins] = await cells(city);
  assert.equal(cityName, '石家庄市');
  assert.ok(Number(cityCheckins) >= 2, `Shijiazhuang's check-ins today: ${cityCheckins}`);
  assert.equal(await officer.page.locator('#chart svg rect').count() > 0, true, 'the bar chart has bars');
  await shot(officer.page, '13-dashboard', 'dashboard.png');

  await officer.page.selectOption('#ranking-form select[name=level]', 'city');
  await officer.page.locator('#ranking-table tr[data-region="133100"]').waitFor({ state: 'detached' });
  assert.equal(await officer.page.locator('#ranking-table tbody tr').count(), 11);

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
  await officer.page.setViewportSize({ width: 1280, height: 900 });
  Object.assign(state, { officer, owner, venueId });

  assertNoConsoleErrors();
});

test('the authority marks an exposure from a trace: the visitors turn yellow and read a notice; withdrawing restores them', async () => {
  const { alice, officer, venueId } = state;
  assert.ok(officer, 'the venue flow ran');
  await go(officer.page, '/admin.html');
  await officer.page.fill('#trace-form input[name=id]', venueId);
  await officer.page.click('#trace-form button[type=submit]');
  await officer.page.locator('.trace-table tbody tr').first().waitFor();
  // The trace's venue and window fill the exposure form.
  await officer.page.click('#trace-expose');
  assert.equal(await officer.page.inputValue('#exposure-form input[name=id]'), venueId);
  await officer.page.fill('#exposure-form input[name=reason]', '确诊病例到访');
  await officer.page.click('#exposure-form button[type=submit]');
  // The worker (hcctl exposures work --follow) finds both visitors; the page follows it.
  await officer.page.locator('.exposure-status[data-status=done]').waitFor();
  assert.equal((await officer.page.textContent('.exposure-status .contacts')).trim(), '2');
  await shot(officer.page, '20-exposure-done');
  const [contacts] = await Promise.all([officer.page.waitForEvent('download'), officer.page.click('#exposure-csv')]);
  const text = readFileSync(await contacts.path(), 'utf8');
  assert.match(text, /^\uFEFF姓名,身份证号,手机号,场所编号,进入时间,人员编号\r\n/);
  assert.match(text, new RegExp(`张晓明,${state.aliceId},13812345678,${venueId}`));
  assert.equal(text.trim().split('\r\n').length, 3, 'a header and the two visitors');

  // Alice's next code is yellow and names the day; a notice says why, naming no one.
  await go(alice.page, '/code.html');
  await alice.page.locator('#code .code-card[data-color=yellow]').waitFor();
  assert.match(await alice.page.textContent('#code .hints'), /\d+月\d+日与风险人员时空伴随/);
  await alice.page.locator('#notices li.notice').first().waitFor();
  const notice = await alice.page.textContent('#notices');
  assert.match(notice, /时空伴随/);
  assert.doesNotMatch(notice, /王芳|张晓明/);
  await shot(alice.page, '21-code-notice', 'code-notice.png');

  // Withdrawn: the worker marks the contacts and the code is green again.
  officer.page.once('dialog', (dialog) => dialog.accept());
  await officer.page.click('#exposure-withdraw');
  await officer.page.locator('.exposure-status[data-status=withdrawn]').waitFor();
  const deadline = Date.now() + 30_000;
  let color;
  do {
    await go(alice.page, '/code.html');
    await alice.page.locator('#code .code-card').waitFor();
    color = await alice.page.getAttribute('#code .code-card', 'data-color');
    if (color === 'green') break;
    await alice.page.waitForTimeout(500);
  } while (Date.now() < deadline);
  assert.equal(color, 'green', 'the withdrawn exposure no longer counts');
  // The notices load after the code: wait for the withdrawal's.
  await alice.page.locator('#notices li.notice', { hasText: '撤销' }).first().waitFor();

  assertNoConsoleErrors();
});

/** The status of a route called with a token, from the page (as the pages call the API). */
function statusWith(p, token, path) {
  return p.page.evaluate(async ({ url, token }) => (await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status, { url: `${API}${path}`, token });
}

const tokenOf = (p) => p.page.evaluate(() => JSON.parse(localStorage.getItem('hc.session')).token);

test('an owner invites a guardian, sees them and removes them; the removed guardian loses the code', async () => {
  const grace = await user('grace');
  await login(grace, 'web-grace');
  const graceName = '陈静怡';
  const graceId = await identify(grace, graceName);
  await declare(grace);
  await go(grace.page, '/code.html');
  await grace.page.locator('#code .code-card').waitFor();
  await grace.page.locator('#guardian-list li.muted').waitFor();
  assert.match(await grace.page.textContent('#guardian-list'), /暂无监护人/);
  await grace.page.click('#invite-self');
  const code = (await grace.page.locator('#guardian-msg .invitation-code').textContent()).trim();
  assert.match(code, /^i_[a-z2-7]{26}$/);
  assert.match(await grace.page.textContent('#guardian-msg .invitation-expiry'), /有效期至 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d，仅可使用一次/);
  await shot(grace.page, '20-guardian-invitation');

  // Another account: without the invitation, refused with a clear message.
  const henry = await user('henry');
  await login(henry, 'web-henry');
  await identify(henry, '刘建华');
  await declare(henry);
  await go(henry.page, '/code.html');
  await henry.page.locator('#code .code-card').waitFor();
  await henry.page.click('#add-dependent summary');
  await henry.page.fill('#dependent input[name=name]', graceName);
  await henry.page.fill('#dependent input[name=id_number]', graceId);
  await henry.page.selectOption('#relation', 'spouse');
  henry.expect(403, '/v1/dependents');
  await henry.page.click('#dependent button[type=submit]');
  const refusal = henry.page.locator('#dependent .msg.error');
  await refusal.waitFor();
  assert.match(await refusal.textContent(), /已自行注册健康码或已有监护人.*邀请码/);
  await shot(henry.page, '21-guardian-consent-required');

  // With it: added, and on to a declaration for her, filed by the guardian.
  await henry.page.fill('#dependent input[name=invitation]', code);
  await henry.page.click('#dependent button[type=submit]');
  await henry.page.waitForURL(/declare\.html\?subject=s_/);
  const graceSubject = new URL(henry.page.url()).searchParams.get('subject');
  await henry.page.waitForSelector('#declare:not([hidden])');
  assert.match(await henry.page.textContent('#subjects button.active'), /陈\*怡（配偶）/);
  await henry.page.selectOption('select[name=region-city]', '130100');
  await henry.page.selectOption('select[name=region-county]', '130102');
  await henry.page.click('#declare button[type=submit]');
  await henry.page.locator('#result .code-card').waitFor();
  await henry.page.waitForFunction(() => document.querySelectorAll('#history-list .declared-by').length === 2);
  assert.deepEqual(await henry.page.locator('#history-list .declared-by').allTextContents(), ['申报人：监护人 刘*华', '申报人：本人']);
  await shot(henry.page, '22-declared-by');
  // The guardian now sees her code.
  assert.equal(await statusWith(henry, await tokenOf(henry), `/code/v1/code?subject_id=${graceSubject}`), 200);

  // The owner sees the guardian and removes them, after confirming.
  await go(grace.page, '/code.html');
  const row = grace.page.locator('#guardian-list li[data-guardian]');
  await row.waitFor();
  assert.match(await row.textContent(), /刘\*华/);
  assert.match(await row.textContent(), /对方登记的关系：配偶/);
  await shot(grace.page, '23-guardians');
  grace.page.once('dialog', (dialog) => dialog.accept());
  await row.locator('button').click();
  await grace.page.locator('#guardian-msg.ok').waitFor();
  assert.match(await grace.page.textContent('#guardian-list'), /暂无监护人/);

  // The removed guardian: no longer listed, and refused the code.
  henry.expect(403, `/v1/code?subject_id=${graceSubject}`);
  assert.equal(await statusWith(henry, await tokenOf(henry), `/code/v1/code?subject_id=${graceSubject}`), 403);
  await go(henry.page, `/code.html?subject=${graceSubject}`);
  await henry.page.locator('#code .code-card').waitFor();
  assert.match(await henry.page.textContent('#dependent-list'), /暂无被监护人/);
  assert.match(await henry.page.locator('#code .code-card').textContent(), /刘\*华/);

  state.henry = henry;
  assertNoConsoleErrors();
});

test('an owner invites a further guardian for a dependent', async () => {
  const { alice } = state;
  assert.ok(alice, 'the first flows ran');
  await go(alice.page, '/code.html');
  const dependent = alice.page.locator('#dependent-list li[data-subject]').first();
  await dependent.waitFor();
  await dependent.locator('button.invite').click();
  await alice.page.locator('#dependent-msg .invitation-code').waitFor();
  assert.match(await alice.page.textContent('#dependent-msg'), /张\*宝/);
  assert.match((await alice.page.textContent('#dependent-msg .invitation-code')).trim(), /^i_[a-z2-7]{26}$/);
  assertNoConsoleErrors();
});

test('a guard past 120 scans a minute is told when to try again', async () => {
  const { alice } = state;
  assert.ok(alice, 'the first flow ran');
  const guard = await user('busy-guard');
  await login(guard, 'web-busy-guard');
  await identify(guard, '孙立军');
  await go(guard.page, '/scan.html');
  await guard.page.waitForSelector('#upload');
  // Within one minute of the clock (the limit counts calendar minutes).
  if (new Date().getSeconds() > 40) await new Promise((r) => setTimeout(r, (61 - new Date().getSeconds()) * 1000));
  const token = await tokenOf(guard);
  // Valid scans: a code refused before any read (a forged one) is not counted.
  const shown = await (await fetch(`${API}/code/v1/code`, { headers: { authorization: `Bearer ${await tokenOf(alice)}` } })).json();
  for (let i = 0; i < 120; i += 10) {
    await Promise.all(Array.from({ length: 10 }, () => fetch(`${API}/scan/v1/scans`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ code: shown.qr }),
    })));
  }
  guard.expect(429, '/v1/scans');
  await guard.page.setInputFiles('#upload', { name: 'code.png', mimeType: 'image/png', buffer: readFileSync(join(RESULTS, 'alice-code.png')) });
  const box = guard.page.locator('#msg.error');
  await box.waitFor();
  // With Retry-After when the API lets the page read it (Access-Control-Expose-Headers), else without.
  assert.match(await box.textContent(), /^操作过于频繁，请(在 \d+ (秒|分钟|小时)后|稍后)再试$/);
  await shot(guard.page, '24-too-many');
  // The message for each form of Retry-After.
  const messages = await guard.page.evaluate(async (values) => {
    const { ApiError } = await import('/js/api.js');
    return values.map((v) => new ApiError(429, { code: 'too-many-attempts' }, v).message);
  }, ['30', '1', '600', '43200', new Date(Date.now() + 90_000).toUTCString(), null, 'soon']);
  assert.deepEqual(messages.map((m) => m.replace(/在 (89|90|91) 秒/, '在 90 秒')), [
    '操作过于频繁，请在 30 秒后再试', '操作过于频繁，请在 1 秒后再试', '操作过于频繁，请在 10 分钟后再试', '操作过于频繁，请在 12 小时后再试',
    '操作过于频繁，请在 90 秒后再试', '操作过于频繁，请稍后再试', '操作过于频繁，请稍后再试',
  ]);
  assertNoConsoleErrors();
});

test('a citizen appeals a yellow code; the authority upholds it with green; the citizen sees the answer and a green code', async () => {
  const pat = await user('pat');
  await login(pat, 'web-pat');
  await identify(pat, '周立平');
  // A declaration with a fever: yellow.
  await go(pat.page, '/declare.html');
  await pat.page.waitForSelector('#declare:not([hidden])');
  await pat.page.selectOption('select[name=region-city]', '130100');
  await pat.page.selectOption('select[name=region-county]', '130102');
  await pat.page.fill('input[name=temperature]', '38.2');
  await pat.page.click('#declare button[type=submit]');
  await pat.page.waitForSelector('#result:not([hidden]) .code-card[data-color=yellow]');

  await go(pat.page, '/code.html');
  await pat.page.click('#to-appeal');
  await pat.page.waitForURL(/appeal\.html/);
  await pat.page.fill('#appeal textarea[name=reason]', '昨天体温计坏了，实际没有发热。');
  await pat.page.click('#appeal button[type=submit]');
  const mine = pat.page.locator('#appeal-list li.appeal[data-status=open]');
  await mine.waitFor();
  assert.match(await mine.textContent(), /待处理/);
  // A second one while it is open: refused, with the reason in Chinese.
  await pat.page.fill('#appeal textarea[name=reason]', '再次申诉，请尽快处理。');
  pat.expect(409, '/v1/appeals');
  await pat.page.click('#appeal button[type=submit]');
  await pat.page.waitForSelector('#appeal .msg.error');
  assert.match(await pat.page.textContent('#appeal .msg'), /已有一件待处理的申诉/);
  await shot(pat.page, '26-appeal');
  const appealId = await mine.getAttribute('data-id');

  const officer = await user('appeal-officer', { viewport: { width: 1280, height: 900 } });
  await login(officer, 'web-appeal-officer');
  const officerId = await officer.page.evaluate(() => JSON.parse(localStorage.getItem('hc.session')).user.id);
  const granted = hcctl('roles', 'grant', '--user', officerId, '--role', 'authority');
  assert.equal(granted.status, 0, `hcctl roles grant: ${granted.stderr}`);
  await go(officer.page, '/admin.html');
  await officer.page.click('#appeals-load');
  const row = officer.page.locator(`#appeal-queue li[data-id="${appealId}"]`);
  await row.waitFor();
  assert.match(await row.textContent(), /黄码/);
  await row.locator('input[name=note]').fill('经核实体温正常');
  await row.locator('select[name=color]').selectOption('green');
  await shot(officer.page, '27-appeal-queue');
  await row.locator('button[value=upheld]').click();
  await row.waitFor({ state: 'detached' });

  await go(pat.page, '/appeal.html');
  const decided = pat.page.locator(`#appeal-list li[data-id="${appealId}"][data-status=upheld]`);
  await decided.waitFor();
  assert.match(await decided.textContent(), /已支持/);
  assert.match(await decided.textContent(), /经核实体温正常/);
  await go(pat.page, '/code.html');
  await pat.page.waitForSelector('.code-card[data-color=green]');
  // The outcome is also a notice on the code page (and a WeChat message, logged locally).
  const notice = pat.page.locator(`#notice-list li.notice[data-kind=appeal][data-id="n_${appealId}"]`);
  await notice.waitFor();
  assert.match(await notice.textContent(), /申诉成立，健康码已核验为绿码/);
  assert.match(await notice.textContent(), /经核实体温正常/);
  assertNoConsoleErrors();
});

test('logout ends the session: the old token is refused, and a page holding it returns to login', async () => {
  const ivy = await user('ivy');
  await login(ivy, 'web-ivy');
  await identify(ivy, '周雪梅');
  await declare(ivy);
  await go(ivy.page, '/code.html');
  await ivy.page.waitForSelector('#logout');
  const session = await ivy.page.evaluate(() => localStorage.getItem('hc.session'));
  await ivy.page.click('#logout');
  await ivy.page.waitForURL(`${WEB}/index.html`);
  assert.equal(await ivy.page.evaluate(() => localStorage.getItem('hc.session')), null);
  const { token } = JSON.parse(session);
  ivy.expect(401, '/v1/me');
  assert.equal(await statusWith(ivy, token, '/login/v1/me'), 401);

  // A page that still holds the old session is sent to the login page.
  await ivy.page.evaluate((s) => localStorage.setItem('hc.session', s), session);
  ivy.expect(401, '/v1/me');
  await go(ivy.page, '/code.html');
  await ivy.page.waitForURL(/\/index\.html\?next=%2Fcode\.html/);
  assert.equal(await ivy.page.evaluate(() => localStorage.getItem('hc.session')), null);

  // Logging in again with ?next=/%09/evil.example stays on our origin (the browser would read it as //evil.example).
  await ivy.page.goto(`${WEB}/index.html?next=/%09/evil.example`);
  await ivy.page.fill('input[name=name]', `web-ivy-${RUN}`);
  await ivy.page.click('#login button[type=submit]');
  await ivy.page.waitForURL(`${WEB}/code.html`);
  // A next of ours is followed.
  await ivy.page.click('#logout');
  await ivy.page.waitForURL(`${WEB}/index.html`);
  await ivy.page.goto(`${WEB}/index.html?next=${encodeURIComponent('/declare.html?subject=')}`);
  await ivy.page.fill('input[name=name]', `web-ivy-${RUN}`);
  await ivy.page.click('#login button[type=submit]');
  await ivy.page.waitForURL(`${WEB}/declare.html?subject=`);
  await ivy.page.waitForSelector('#declare:not([hidden])');
  state.ivy = ivy;
  assertNoConsoleErrors();
});

test('safeNext: only our pages, whatever decoding and URL parsing make of the value', async () => {
  const { ivy } = state;
  assert.ok(ivy, 'the logout flow ran');
  const refused = [
    '//evil.example', '/\\evil.example', '/%09/evil.example', '/\t/evil.example', '/\n/evil.example', '/\r/evil.example',
    '/%2F%2Fevil.example', '/%2f/evil.example', '/%5Cevil.example', '/%5C%5Cevil.example', '/ /evil.example', '/%20/evil.example',
    '/.//evil.example', '/..//evil.example', '/%2e%2e//evil.example', 'javascript:alert(1)', '/javascript:alert(1)',
    'https://evil.example/code.html', `${WEB}/code.html`, 'code.html', ' /code.html', '/code.html\\@evil.example',
    '/index.html', '/tests/lib.mjs', '/js/api.js', '/%E0%A4%A', '', null,
  ];
  const allowed = {
    '/code.html': '/code.html',
    '/declare.html?subject=s_abc': '/declare.html?subject=s_abc',
    '/v?c=abc-DEF_1': '/v?c=abc-DEF_1',
    '/./code.html': '/code.html',
    '/venue.html#entries': '/venue.html#entries',
  };
  const results = await ivy.page.evaluate(async (inputs) => {
    const { safeNext } = await import('/js/session.js');
    return inputs.map((value) => safeNext(value));
  }, [...refused, ...Object.keys(allowed)]);
  assert.deepEqual(results.slice(0, refused.length), refused.map(() => null), `refused: ${JSON.stringify(refused.filter((_, i) => results[i] !== null))}`);
  assert.deepEqual(results.slice(refused.length), Object.values(allowed));
  assertNoConsoleErrors();
});

test('?api= is taken only from config.js\'s allow-list, and a foreign one is neither used nor remembered', async () => {
  const p = await user('link-victim');
  const foreignRequests = [];
  p.page.on('request', (request) => {
    const url = request.url();
    if (/^https?:/.test(url) && !url.startsWith(WEB) && !url.startsWith(API)) foreignRequests.push(url);
  });
  await go(p.page, '/index.html');
  assert.equal(JSON.parse(await p.page.evaluate(() => localStorage.getItem('hc.api'))).apiBase, API);

  const foreign = 'http://evil.example:9/lambda-url';
  await p.page.goto(`${WEB}/index.html?api=${encodeURIComponent(foreign)}`);
  await p.page.locator('#api-refused').waitFor();
  assert.match(await p.page.textContent('#api-refused'), /不在允许列表中/);
  assert.equal(JSON.parse(await p.page.evaluate(() => localStorage.getItem('hc.api'))).apiBase, API, 'the remembered API is kept');
  assert.match(await p.page.textContent('#api'), new RegExp(API.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  await shot(p.page, '25-api-refused');
  // It still logs in, against our API.
  await p.page.fill('input[name=name]', `web-link-victim-${RUN}`);
  await p.page.click('#login button[type=submit]');
  await p.page.waitForURL(/identity\.html/);

  // A remembered base that is (no longer) allowed is forgotten.
  await p.page.evaluate((base) => localStorage.setItem('hc.api', JSON.stringify({ apiBase: base, layout: 'lambda-url' })), foreign);
  await p.page.goto(`${WEB}/identity.html`);
  await p.page.waitForSelector('#identity:not([hidden])');
  assert.equal(await p.page.evaluate(() => localStorage.getItem('hc.api')), null);

  const verdicts = await p.page.evaluate(async (inputs) => {
    const { allowedApi } = await import('/js/api.js');
    return inputs.map((value) => allowedApi(value));
  }, [API, `${API}/`, 'http://127.0.0.1:9000/lambda-url', foreign, `http://${new URL(API).host}@evil.example/lambda-url`,
    `http://${new URL(API).hostname}.evil.example:${new URL(API).port}/lambda-url`, 'javascript:alert(1)', '//evil.example', `${new URL(API).origin.replace('http:', 'ftp:')}/x`,
    `http://127.0.0.1:${Number(new URL(API).port) + 1}/lambda-url`]);
  assert.deepEqual(verdicts, [true, true, true, false, false, false, false, false, false, false]);
  assert.deepEqual(foreignRequests, [], 'no request leaves for another host');
  assertNoConsoleErrors();
});

test('the Content-Security-Policy: every page carries it, the server forbids framing, and it is enforced', async () => {
  const { ivy } = state;
  assert.ok(ivy, 'the logout flow ran');
  for (const path of ['/index.html', '/identity.html', '/declare.html', '/code.html', '/appeal.html', '/checkin.html', '/scan.html', '/venue.html', '/admin.html', '/v']) {
    const response = await ivy.page.request.get(`${WEB}${path}`);
    assert.match(response.headers()['content-security-policy'] || '', /frame-ancestors 'none'/, path);
    const html = await response.text();
    const policy = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html)?.[1];
    assert.ok(policy, `${path} has the policy`);
    assert.match(policy, /default-src 'self'; script-src 'self'; style-src 'self'/, path);
    assert.match(policy, new RegExp(`connect-src 'self' [^;]*${new URL(API).origin.replace(/[.]/g, '\\.')}`), path);
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=/i, `${path}: no inline script, style or handler`);
  }
  // The pages a verified user opens, none violating it (lib.mjs collects violations on every page).
  for (const path of ['/declare.html', '/code.html', '/checkin.html', '/scan.html']) {
    await go(ivy.page, path);
    await ivy.page.waitForSelector('nav.tabs a');
  }
  ivy.expect(404, '/v1/venues/mine');
  await go(ivy.page, '/venue.html');
  await ivy.page.waitForSelector('#apply:not([hidden])');
  assertNoConsoleErrors();

  // And it is enforced: an inline style is blocked and reported.
  const before = ivy.errors.length;
  await ivy.page.evaluate(() => {
    const probe = document.createElement('div');
    probe.setAttribute('style', 'color: red');
    document.body.append(probe);
  });
  await new Promise((r) => setTimeout(r, 500));
  const reported = ivy.errors.splice(before);
  assert.ok(reported.some((e) => /CSP violation: style-src/.test(e)), `the probe is reported: ${JSON.stringify(reported)}`);
});
