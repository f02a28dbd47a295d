// People without a phone (see run.mjs for the stack): an inspector types a
// person's ID number on the scan page and sees their live status, a page
// that shows no such form to a guard without the role; a venue's holder
// records a visitor by ID number on the venue page and sees the entry, for
// a person no one registered too.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RUN, call, declaration, freshIdNumber, go, hcctl, launch, phone, sent, shot } from './lib.mjs';

let browser;
const phones = [];

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});


/** A verified person with a fresh ID number, made through the API. */
async function person(who, name) {
  const { body: login } = await call('POST', 'login', '/v1/login', { body: { code: `dev:${who}-${RUN}` } });
  const idNumber = freshIdNumber();
  const { body } = await call('POST', 'login', '/v1/identity', {
    token: login.token,
    body: { name: sent('name', name), id_number: idNumber, phone: sent('phone', '13912345670') },
  });
  return { token: body.token, idNumber, subjectId: body.user.subject_id };
}

/** A phone logged in and verified through the pages; returns it with its account id and token. */
async function verifiedPhone(who, name) {
  const p = await phone(browser, who);
  phones.push(p);
  await go(p.page, '/index.html');
  await p.page.fill('input[name=name]', `${who}-${RUN}`);
  await p.page.click('#login button[type=submit]');
  await p.page.waitForURL(/identity\.html/);
  await p.page.waitForSelector('#identity:not([hidden])');
  await p.page.fill('#identity input[name=name]', sent('name', name));
  await p.page.fill('#identity input[name=id_number]', freshIdNumber());
  await p.page.fill('#identity input[name=phone]', sent('phone', '13812345670'));
  await p.page.click('#identity button[type=submit]');
  await p.page.waitForSelector('#done:not([hidden])');
  const session = await p.page.evaluate(() => JSON.parse(localStorage.getItem('hc.session')));
  return { ...p, account: session.user.id, token: session.token };
}

test('an inspector checks a person without a phone by ID number; a guard without the role has no such form', async () => {
  const grandma = await person('idcard-grandma', '王奶奶');
  await call('POST', 'declaration', '/v1/declarations', { token: grandma.token, body: declaration });

  const officer = await verifiedPhone('idcard-officer', '赵核验');
  const page = officer.page;
  await go(page, '/scan.html');
  await page.waitForSelector('nav.tabs a');
  assert.equal(await page.locator('#idcard').isHidden(), true, 'no ID entry without the role');

  assert.equal(hcctl('roles', 'grant', '--user', officer.account, '--role', 'inspector').status, 0);
  await go(page, '/scan.html');
  await page.waitForSelector('#idcard:not([hidden])');
  await page.fill('#id-number', grandma.idNumber);
  await shot(page, 'idcard-01-entry');
  await page.click('#idcard-form button[type=submit]');
  const verdict = page.locator('#result .verdict');
  await verdict.waitFor();
  assert.equal(await verdict.getAttribute('data-result'), 'pass');
  assert.equal((await verdict.locator('.name').textContent()).trim(), '王*奶');
  assert.equal(await page.inputValue('#id-number'), '', 'the number leaves the form');
  await shot(page, 'idcard-02-verdict');

  // Back to scanning; a number no one holds.
  await page.locator('#result button').click();
  await page.waitForSelector('#idcard:not([hidden])');
  const nobody = freshIdNumber('130104');
  officer.expect(404, '/v1/scans');
  await page.fill('#id-number', nobody);
  await page.click('#idcard-form button[type=submit]');
  await page.waitForSelector('#msg.error');
  assert.match(await page.textContent('#msg'), /未找到/);

  // The role revoked: the next scan by number is refused.
  assert.equal(hcctl('roles', 'revoke', '--user', officer.account, '--role', 'inspector').status, 0);
  const refused = await call('POST', 'scan', '/v1/scans', { token: officer.token, body: { id_number: grandma.idNumber }, ok: [403] });
  assert.equal(refused.body.code, 'forbidden');

  assert.deepEqual(phones.flatMap((p) => p.errors), [], 'no page may log a console error');
});

test('a venue holder records a visitor without a phone, registered or not, and sees the entries', async () => {
  const holder = await verifiedPhone('idcard-holder', '孙店主');
  await call('POST', 'venue', '/v1/venues', {
    token: holder.token, body: { name: `代登记便民店${RUN}`, address: '中山东路 5 号', region: '130102', category: 'commerce' },
  });
  const page = holder.page;
  await go(page, '/venue.html');
  await page.waitForSelector('#mine:not([hidden])');

  // A person no one registered: recorded, the name unknown.
  const stranger = freshIdNumber('130104');
  await page.fill('#assisted-id', stranger);
  await page.click('#assisted button[type=submit]');
  const shown = page.locator('#assisted-result:not([hidden])');
  await shown.waitFor();
  assert.equal((await shown.locator('.name').textContent()).trim(), '未登记');
  assert.equal(await shown.getAttribute('data-color'), 'green');
  assert.equal(await page.inputValue('#assisted-id'), '', 'the number leaves the form');
  await page.waitForFunction(() => document.querySelector('#entries')?.textContent.includes('未登记'));
  await shot(page, 'idcard-03-assisted');

  // A registered person: their masked name.
  const grandpa = await person('idcard-grandpa', '钱爷爷');
  await page.fill('#assisted-id', grandpa.idNumber);
  await page.click('#assisted button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#assisted-result .name')?.textContent.trim() === '钱*爷');
  await page.waitForFunction(() => document.querySelectorAll('#entries li').length === 2);

  // A number that is not one is refused on the page, before any request.
  await page.fill('#assisted-id', '13010219900101001');
  await page.click('#assisted button[type=submit]');
  await page.waitForSelector('#assisted .msg.error');

  // The stranger registers later: they claim the subject the entry made.
  const { body: login } = await call('POST', 'login', '/v1/login', { body: { code: `dev:idcard-stranger-${RUN}` } });
  const { body: claimed } = await call('POST', 'login', '/v1/identity', {
    token: login.token, body: { name: sent('name', '李来客'), id_number: stranger, phone: sent('phone', '13912345671') },
  });
  assert.match(claimed.user.subject_id, /^s_/);
  assert.equal(claimed.user.name_masked, '李*客');

  assert.deepEqual(phones.flatMap((p) => p.errors), [], 'no page may log a console error');
});
