// Paper codes (纸质码) on the code page (see run.mjs for the stack): a
// guardian prints a paper code for a dependent, is warned first that it
// revokes the earlier ones, and sees the card; the card's QR (read from the
// page's image) scans to the dependent's live status, and printing again
// revokes it. The people are made through the API; the guardian uses the pages.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { RUN, call, declaration, freshIdNumber, go, launch, phone, sent, shot } from './lib.mjs';

let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});


/** A verified person with a fresh ID number, logged in as `dev:<login>`; returns their token. */
async function person(login, name) {
  const { body: session } = await call('POST', 'login', '/v1/login', { body: { code: `dev:${login}` } });
  const { body } = await call('POST', 'login', '/v1/identity', {
    token: session.token,
    body: { name: sent('name', name), id_number: freshIdNumber(), phone: sent('phone', '13812345678') },
  });
  return body.token;
}

/** The QR content of the card the page shows, read from its image with the client's own QR reader (jsQR). */
function readCard(page) {
  return page.evaluate(async () => {
    const { default: jsQR } = await import('/vendor/jsqr.mjs');
    const img = document.querySelector('#paper-image');
    await img.decode();
    const width = 1200;
    const height = Math.round((width * img.naturalHeight) / img.naturalWidth);
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, width, height);
    ctx.drawImage(img, 0, 0, width, height);
    const found = jsQR(ctx.getImageData(0, 0, width, height).data, width, height);
    return found ? found.data : null;
  });
}

test('a guardian prints a paper code for a dependent: warned, the card shows, it scans live, and printing again revokes it', async () => {
  const login = `paper-guardian-${RUN}`;
  const guardian = await person(login, '王建国');
  const { body: added } = await call('POST', 'login', '/v1/dependents', {
    token: guardian,
    body: { name: sent('name', '王小花'), id_number: freshIdNumber('130104'), relation: 'parent' },
  });
  const child = added.dependent.subject_id;
  await call('POST', 'declaration', '/v1/declarations', { token: guardian, body: { ...declaration, subject_id: child } });
  const guard = await person(`paper-guard-${RUN}`, '赵保安');

  const p = await phone(browser, 'guardian');
  await go(p.page, '/index.html');
  await p.page.fill('input[name=name]', login);
  await p.page.click('#login button[type=submit]');
  await p.page.waitForURL(/code\.html/);
  await go(p.page, `/code.html?subject=${child}`);
  await p.page.locator('#code .code-card').waitFor();
  assert.match(await p.page.textContent('#subjects button.active'), /王\*花/);
  // The warning is on the page before anything is printed.
  assert.match(await p.page.textContent('#paper-warning'), /此前.*纸质码将全部作废/);
  assert.equal(await p.page.isVisible('#paper-card'), false);

  let asked = '';
  p.page.once('dialog', (dialog) => {
    asked = dialog.message();
    dialog.accept();
  });
  await p.page.click('#print-paper');
  await p.page.locator('#paper-card:not([hidden])').waitFor();
  assert.match(asked, /王\*花.*作废/);
  assert.match(await p.page.textContent('#paper-msg'), /王\*花/);
  assert.match(await p.page.textContent('#paper-expiry'), /有效期至 \d{4}-\d{2}-\d{2} \d{2}:\d{2}/);
  assert.ok(await p.page.evaluate(() => document.querySelector('#paper-image').naturalWidth > 0), 'the card is drawn');
  await shot(p.page, '40-paper-code');

  const printed = await readCard(p.page);
  assert.match(printed || '', /^HBHC:1:/, 'the card shows a QR code of ours');
  const { body: scanned } = await call('POST', 'scan', '/v1/scans', { token: guard, body: { code: printed } });
  assert.equal(scanned.name_masked, '王*花');
  assert.equal(scanned.live, true);

  // The PNG, for a printer.
  const [download] = await Promise.all([p.page.waitForEvent('download'), p.page.click('#paper-png')]);
  const png = readFileSync(await download.path());
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'the PNG card is a PNG');

  // Printing again: a new card, and the first one no longer scans.
  p.page.once('dialog', (dialog) => dialog.accept());
  await p.page.click('#print-paper');
  await p.page.waitForFunction((old) => {
    const msg = document.querySelector('#paper-msg');
    return msg && !msg.hidden && document.querySelector('#paper-image').src !== old;
  }, await p.page.getAttribute('#paper-image', 'src'));
  const reprinted = await readCard(p.page);
  assert.notEqual(reprinted, printed);
  const refused = await call('POST', 'scan', '/v1/scans', { token: guard, body: { code: printed }, ok: [422] });
  assert.equal(refused.body.code, 'revoked-code');
  await call('POST', 'scan', '/v1/scans', { token: guard, body: { code: reprinted } });
  assert.deepEqual(p.errors, [], 'no page may log a console error');
});
