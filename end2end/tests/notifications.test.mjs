// Profiles and notifications: an owner edits the workshop's profile and the
// directory and the dashboard show it at once; after a booking journey the
// admin mailbox holds the customer's receipt, the accept notice and the report,
// and the notice's one-click unsubscribe link works in a logged-out browser,
// once; a mechanic online with the dashboard closed is mailed about a new
// request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, launchBrowser, openPage, screenshot, startServer, visit } from '../lib/harness.mjs';
import { acceptOffer, bookAndPay, logIn, setOnline, writeReport } from '../lib/flows.mjs';

let server;
let browser;

before(async () => {
  // A short interval between new-request mails, so that mails earlier files
  // caused do not hold this file's back.
  server = await startServer({ OFFER_MAIL_INTERVAL_SECS: '10' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('an owner edits the profile and the directory and the dashboard show it without a restart', async () => {
  const owner = await openPage(browser, { expectedStatuses: [400] });
  await logIn(owner, 'owner@northside.test');
  await owner.click('#edit-profile');
  await owner.waitForURL(/\/workshop\/profile$/);
  const form = owner.locator('#workshop-profile-form');
  await form.waitFor();
  assert.equal(await owner.locator('#field-name').inputValue(), 'Northside Auto Clinic');

  // A name of one letter is pointed out on its field; nothing is saved.
  await owner.fill('#field-name', 'N');
  await owner.click('#workshop-profile-form button[type=submit]');
  await owner.locator('#field-name-error', { hasText: /name/i }).waitFor();
  await owner.fill('#field-name', 'Northside Auto Clinic');

  const description = 'Family garage since 1987: hybrids, <brakes> & diagnostics.';
  await owner.fill('#field-description', description);
  await owner.fill('#field-specialties', 'Hybrid systems, Brakes');
  await owner.click('#workshop-profile-form button[type=submit]');
  await owner.locator('#profile-saved').waitFor();
  await screenshot(owner, 'workshop-profile');

  await visit(owner, '/workshop');
  assert.equal(await owner.locator('#workshop-description').innerText(), description);

  const visitor = await openPage(browser);
  await visit(visitor, '/workshops');
  const card = visitor.locator('article.workshop-card[data-workshop-name="Northside Auto Clinic"]');
  await card.locator('.tags li', { hasText: 'Hybrid systems' }).waitFor();
  const res = await fetch(`${BASE_URL}/api/workshops/directory?q=Hybrid`);
  const found = (await res.json()).workshops.map((w) => w.workshop_name);
  assert.ok(found.includes('Northside Auto Clinic'), `directory search by the new specialty: ${found}`);
});

const PROBLEM = 'Battery light flickers at idle since last week.';

test('after a booking the admin mailbox holds the receipt, the accept notice and the report, and the unsubscribe link works once', async () => {
  const res = await fetch(`${BASE_URL}/api/workshops/directory?q=Harbor`);
  const harbor = (await res.json()).workshops.find((w) => w.workshop_name === 'Harbor Motors');

  const mechanic = await openPage(browser);
  await logIn(mechanic, 'sam@harbor.test');
  await setOnline(mechanic, true);
  const customer = await openPage(browser);
  await logIn(customer, 'customer@autodoctor.test');
  const orderUrl = await bookAndPay(customer, { workshopId: harbor.workshop_id, routing: 'workshop_only', problem: PROBLEM });
  const orderId = new URL(orderUrl).searchParams.get('order');
  await visit(mechanic, '/mechanic');
  await acceptOffer(mechanic, PROBLEM);
  const sessionId = new URL(mechanic.url()).pathname.split('/')[2];
  await writeReport(mechanic, { summary: 'Loose alternator belt; the battery is fine.' });
  await mechanic.click('#end-form button[type=submit]');
  await mechanic.locator('#session-status', { hasText: 'Completed' }).waitFor();

  const admin = await openPage(browser);
  await logIn(admin, 'admin@autodoctor.test');
  await visit(admin, '/admin/mailbox');
  // The demo customer books in other test files too: this booking's mails are
  // the ones that name its order or its session.
  const mails = admin.locator('article.mail[data-to="customer@autodoctor.test"]');
  const receipt = mails.filter({ hasText: 'Your receipt from autodoctor' }).filter({ hasText: `Order: ${orderId}` });
  await receipt.first().waitFor();
  assert.equal(await receipt.count(), 1, 'one receipt');
  assert.match(await receipt.innerText(), /Amount paid: \$\d+\.\d\d/);
  const accepted = mails.filter({ hasText: 'A mechanic has taken your request' }).filter({ hasText: `/session/${sessionId}` });
  assert.equal(await accepted.count(), 1, 'one accept notice');
  assert.match(await accepted.innerText(), /Sam Sato of Harbor Motors has taken your request/);
  const report = mails.filter({ hasText: 'Your diagnosis report: 2017 Subaru Outback' }).filter({ hasText: sessionId });
  assert.equal(await report.count(), 1, 'one report mail');
  assert.match(await report.innerText(), /Loose alternator belt; the battery is fine\./);
  await screenshot(admin, 'admin-mailbox-notifications');

  // The accept notice's unsubscribe link, opened in a browser that is logged out.
  const link = await accepted.locator('a.mail-link[href*="/unsubscribe/"]').getAttribute('href');
  assert.match(link, /\/unsubscribe\/[A-Za-z0-9_-]{43}$/);
  const reader = await openPage(browser, { expectedStatuses: [410] });
  // A plain page of its own (no islands): loaded, not hydrated.
  const first = await reader.goto(`${BASE_URL}${new URL(link).pathname}`, { waitUntil: 'load' });
  assert.equal(first.status(), 200);
  await reader.click('#unsubscribe-confirm');
  await reader.locator('#unsubscribe-result', { hasText: 'no more optional emails' }).waitFor();
  // Once: the same link again is refused with a sentence.
  const again = await reader.goto(`${BASE_URL}${new URL(link).pathname}`, { waitUntil: 'load' });
  assert.equal(again.status(), 410);
  await reader.locator('#unsubscribe-result', { hasText: 'used already' }).waitFor();

  // The customer's account page shows optional email off.
  await visit(customer, '/account');
  assert.equal(await customer.locator('#field-optional_mail').inputValue(), 'off');
});

test('a mechanic online with the dashboard closed is mailed about a new request, once', async () => {
  const mechanic = await openPage(browser);
  await logIn(mechanic, 'ivy@independent.test');
  await setOnline(mechanic, true);
  // The dashboard is closed: the account page has no live offers.
  await visit(mechanic, '/account');

  const problem = `Gearbox whines in third gear, only when cold (${Date.now()}).`;
  const customer = await openPage(browser);
  await logIn(customer, 'customer@autodoctor.test');
  await bookAndPay(customer, { problem });

  // The worker looks every 15 seconds; the mail reaches the admin mailbox.
  const admin = await openPage(browser);
  await logIn(admin, 'admin@autodoctor.test');
  const toIvy = () =>
    admin.locator('article.mail[data-to="ivy@independent.test"]').filter({ hasText: problem });
  const deadline = Date.now() + 45_000;
  for (;;) {
    await visit(admin, '/admin/mailbox');
    if ((await toIvy().count()) > 0) break;
    assert.ok(Date.now() < deadline, 'no new-request mail reached Ivy within 45 s');
    await admin.waitForTimeout(2000);
  }
  const mail = toIvy();
  assert.equal(await mail.count(), 1, 'one mail about this request');
  const text = await mail.innerText();
  assert.match(text, /waiting for a mechanic/);
  assert.match(text, /Video diagnosis \(15 min\), 2017 Subaru Outback: Gearbox whines/);
  assert.match(text, /\/mechanic/);
  assert.ok(await mail.locator('a.mail-link[href*="/unsubscribe/"]').count() > 0, 'a one-click unsubscribe link');

  // Ivy follows the mail to the dashboard and takes the request; no second mail came.
  await visit(mechanic, '/mechanic');
  await acceptOffer(mechanic, problem);
  await writeReport(mechanic, { summary: 'Worn third-gear synchro; safe to drive gently.' });
  await mechanic.click('#end-form button[type=submit]');
  await mechanic.locator('#session-status', { hasText: 'Completed' }).waitFor();
  await visit(admin, '/admin/mailbox');
  assert.equal(await toIvy().count(), 1, 'still one mail about this request');
});
