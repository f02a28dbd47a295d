// The dashboard's search, where a trace starts (see run.mjs for the stack):
// the officer types a case's ID number, sees the person and their trace;
// finds a venue by county and part of its name, opens its trace, and revokes
// it after a confirmation, after which its code fails at check-in (410).
// The people and venues are made through the API; the officer uses the pages.
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


/** A verified person with a fresh ID number; returns their token and number. */
async function person(who, name) {
  const { body: login } = await call('POST', 'login', '/v1/login', { body: { code: `dev:${who}-${RUN}` } });
  const idNumber = freshIdNumber();
  const { body } = await call('POST', 'login', '/v1/identity', {
    token: login.token,
    body: { name: sent('name', name), id_number: idNumber, phone: sent('phone', '13912345678') },
  });
  return { token: body.token, idNumber, subjectId: body.user.subject_id };
}

test('the officer finds a case by ID number and a venue by county and name, traces both and revokes the venue', async () => {
  // A shop and a clinic in Chang'an district, this run's names; a visitor checks in at the shop.
  const names = { shop: `幸福里超市${RUN}`, clinic: `光明诊所${RUN}` };
  const shopOwner = await person('find-shop', '李店主');
  const { body: shop } = await call('POST', 'venue', '/v1/venues', {
    token: shopOwner.token, body: { name: names.shop, address: '建设北大街 9 号', region: '130102', category: 'commerce' },
  });
  const clinicOwner = await person('find-clinic', '赵医生');
  await call('POST', 'venue', '/v1/venues', {
    token: clinicOwner.token, body: { name: names.clinic, address: '中山东路 3 号', region: '130102', category: 'medical' },
  });
  const visitor = await person('find-visitor', '钱多多');
  await call('POST', 'declaration', '/v1/declarations', { token: visitor.token, body: declaration });
  await call('POST', 'scan', '/v1/checkins', { token: visitor.token, body: { venue_code: shop.qr } });

  const officer = await phone(browser, 'officer', { viewport: { width: 1280, height: 900 } });
  phones.push(officer);
  const { body: login } = await call('POST', 'login', '/v1/login', { body: { code: `dev:find-officer-${RUN}` } });
  assert.equal(hcctl('roles', 'grant', '--user', login.user.id, '--role', 'authority').status, 0);
  await go(officer.page, '/index.html');
  await officer.page.fill('input[name=name]', `find-officer-${RUN}`);
  await officer.page.click('#login button[type=submit]');
  await officer.page.waitForURL(/identity\.html/);
  await go(officer.page, '/admin.html');
  const page = officer.page;
  await page.waitForSelector('#dashboard:not([hidden])');

  // The case's ID number: the person, then their trace below.
  await page.fill('#person-form input[name=id_number]', visitor.idNumber);
  await page.click('#person-form button[type=submit]');
  const found = page.locator('.found-subject');
  await found.waitFor();
  assert.equal((await found.locator('.name').textContent()).trim(), '钱多多');
  assert.equal(await found.getAttribute('data-color'), 'green');
  assert.equal((await found.locator('.subject-id').textContent()).trim(), visitor.subjectId);
  assert.equal(await page.inputValue('#person-form input[name=id_number]'), '', 'the number leaves the form');
  await page.locator('.trace-visits tbody tr').first().waitFor();
  assert.match(await page.textContent('.trace-visits'), new RegExp(names.shop));
  await shot(page, 'find-01-person');

  // A number no one registered.
  const nobody = freshIdNumber('130104');
  officer.expect(404, `/v1/admin/subjects?id_number=${nobody}`);
  await page.fill('#person-form input[name=id_number]', nobody);
  await page.click('#person-form button[type=submit]');
  await page.waitForSelector('#find-person .msg.error');
  assert.match(await page.textContent('#find-person .msg'), /未找到/);

  // Venues of Chang'an district whose name holds this run's mark: both; then the shop alone.
  await page.selectOption('select[name=find-region-city]', '130100');
  await page.selectOption('select[name=find-region-county]', '130102');
  await page.fill('#venue-search-form input[name=q]', RUN);
  await page.click('#venue-search-form button[type=submit]');
  await page.locator('.venue-table tbody tr').first().waitFor();
  assert.deepEqual(
    (await page.locator('.venue-table .venue-name').allTextContents()).map((t) => t.trim()),
    [names.clinic, names.shop],
    'newest first',
  );
  await page.fill('#venue-search-form input[name=q]', names.shop);
  await page.click('#venue-search-form button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('.venue-table tbody tr').length === 1);
  const row = page.locator(`.venue-table tr[data-venue="${shop.venue.id}"]`);
  await shot(page, 'find-02-venues');

  // Its trace: the visitor.
  await row.locator('button.trace').click();
  await page.locator('.trace-table tbody tr').first().waitFor();
  assert.match(await page.textContent('.trace-table'), /钱多多/);

  // Revoking asks first; cancelling changes nothing.
  await row.locator('button.revoke').click();
  await page.locator('.confirm-revoke').waitFor();
  await page.locator('.confirm-revoke button.link').click();
  assert.equal(await page.locator('.confirm-revoke').count(), 0);
  assert.equal((await row.locator('.state').textContent()).trim(), '有效');
  await row.locator('button.revoke').click();
  await shot(page, 'find-03-revoke-confirm');
  await page.locator('.confirm-revoke button.confirm').click();
  const revoked = page.locator(`.venue-table tr[data-venue="${shop.venue.id}"][data-revoked="true"]`);
  await revoked.waitFor();
  assert.equal((await revoked.locator('.state').textContent()).trim(), '已作废');
  assert.equal(await revoked.locator('button.revoke').count(), 0);

  // The printed code now fails at the door.
  const refused = await call('POST', 'scan', '/v1/checkins', { token: visitor.token, body: { venue_code: shop.qr }, ok: [410] });
  assert.equal(refused.body.code, 'venue-revoked');

  // The dashboard's search on a phone.
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, 'find-04-phone');

  assert.deepEqual(phones.flatMap((p) => p.errors), [], 'no page may log a console error');
});
