// Workshops and mechanics: an owner invites a mechanic who signs up through the
// emailed link (taken from the admin mailbox) and lands approved and linked; an
// independent mechanic's application waits for the admin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, openPage, screenshot, startServer, uniqueEmail, visit } from '../lib/harness.mjs';
import { confirmSignUp } from '../lib/flows.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function logIn(page, email, password = 'demo-password') {
  await visit(page, '/login');
  await page.fill('#field-email', email);
  await page.fill('#field-password', password);
  await page.click('#login-form button[type=submit]');
  await page.waitForURL((url) => !url.pathname.startsWith('/login'));
  await page.waitForSelector('body[data-hydrated="true"]');
}

test('an owner invites a mechanic who signs up through the link and is approved and linked', async () => {
  const mechanicEmail = uniqueEmail('invited');

  const owner = await openPage(browser);
  await logIn(owner, 'owner@northside.test');
  assert.match(owner.url(), /\/workshop$/);
  await owner.locator('#workshop-name', { hasText: 'Northside Auto Clinic' }).waitFor();
  await owner.fill('#invite-form #field-email', mechanicEmail);
  await owner.click('#invite-form button[type=submit]');
  await owner.locator('#invite-form .notice.success').waitFor();
  await owner.locator(`#invites-table tr[data-invite-email="${mechanicEmail}"]`, { hasText: 'Pending' }).waitFor();
  await screenshot(owner, 'workshop-dashboard');

  const admin = await openPage(browser);
  await logIn(admin, 'admin@autodoctor.test');
  await visit(admin, '/admin/mailbox');
  const mail = admin.locator(`article.mail[data-to="${mechanicEmail}"]`).first();
  await mail.waitFor();
  const link = await mail.locator('a.mail-link').getAttribute('href');
  assert.match(link, /\/invite\/[A-Za-z0-9_-]{43}$/);
  await screenshot(admin, 'admin-mailbox');

  const mechanic = await openPage(browser);
  await visit(mechanic, new URL(link).pathname);
  await mechanic.locator('#invite-valid h1', { hasText: 'Join Northside Auto Clinic' }).waitFor();
  assert.equal(await mechanic.locator('#invited-email').inputValue(), mechanicEmail);
  assert.equal(await mechanic.locator('#invited-email').isEditable(), false);
  await screenshot(mechanic, 'invite-signup');
  await mechanic.fill('#invite-signup-form #field-name', 'Ingrid Invited');
  await mechanic.fill('#invite-signup-form #field-password', 'ingrid password');
  await mechanic.fill('#invite-signup-form #field-specialties', 'Brakes, Diagnostics');
  await mechanic.fill('#invite-signup-form #field-years_experience', '7');
  await mechanic.click('#invite-signup-form button[type=submit]');
  await mechanic.waitForURL('**/mechanic');
  await mechanic.locator('#application-status', { hasText: 'Approved' }).waitFor();
  assert.equal(await mechanic.locator('#mechanic-affiliation').innerText(), 'Mechanic at Northside Auto Clinic');
  await mechanic.waitForSelector('body[data-hydrated="true"]');
  await mechanic.click('#online-form button[type=submit]');
  await mechanic.locator('#online-state', { hasText: 'Online' }).waitFor();
  await screenshot(mechanic, 'mechanic-dashboard');

  // The owner now sees the mechanic, online, and the invite accepted.
  await visit(owner, '/workshop');
  await owner.locator('#mechanics-table tr', { hasText: mechanicEmail }).filter({ hasText: 'Online' }).waitFor();
  await owner.locator(`#invites-table tr[data-invite-email="${mechanicEmail}"]`, { hasText: 'Accepted' }).waitFor();

  // The link does not work a second time.
  const again = await openPage(browser, { expectedStatuses: [410] });
  const res = await again.goto(new URL(link).pathname);
  assert.equal(res.status(), 410);
  await again.locator('#invite-problem h1', { hasText: 'Invite already used' }).waitFor();

  for (const p of [owner, admin, mechanic]) p.assertNoProblems();
  for (const p of [owner, admin, mechanic, again]) await p.context().close();
});

test("an independent mechanic's application waits until the admin approves it", async () => {
  const email = uniqueEmail('indie');
  const mechanic = await openPage(browser);
  await visit(mechanic, '/mechanics/apply');
  await mechanic.fill('#field-name', 'Otto Own');
  await mechanic.fill('#field-email', email);
  await mechanic.fill('#field-password', 'otto password');
  await mechanic.fill('#field-specialties', 'Engines, Gearboxes');
  await mechanic.fill('#field-years_experience', '15');
  await mechanic.click('#mechanic-apply-form button[type=submit]');
  await confirmSignUp(browser, mechanic, email);
  await mechanic.waitForURL('**/mechanic');
  await mechanic.locator('#application-status', { hasText: 'Waiting for approval' }).waitFor();
  assert.equal(await mechanic.locator('#online-form button').isDisabled(), true, 'cannot go online yet');

  const admin = await openPage(browser);
  await logIn(admin, 'admin@autodoctor.test');
  const card = admin.locator(`#pending-mechanics article[data-mechanic="${email}"]`);
  await card.waitFor();
  await screenshot(admin, 'admin-approvals');
  await card.locator('button', { hasText: 'Approve' }).click();
  await card.waitFor({ state: 'detached' });

  await visit(mechanic, '/mechanic');
  await mechanic.locator('#application-status', { hasText: 'Approved' }).waitFor();
  await mechanic.click('#online-form button[type=submit]');
  await mechanic.locator('#online-state', { hasText: 'Online' }).waitFor();
  mechanic.assertNoProblems();
  admin.assertNoProblems();
  await mechanic.context().close();
  await admin.context().close();
});

test('a new workshop registers and waits for approval', async () => {
  const email = uniqueEmail('owner');
  const page = await openPage(browser);
  await visit(page, '/workshops/join');
  await page.fill('#field-owner_name', 'Wanda Workshop');
  await page.fill('#field-email', email);
  await page.fill('#field-password', 'wanda password');
  await page.fill('#field-workshop_name', `Wanda's Garage ${Date.now()}`);
  await page.fill('#field-city', 'Austin');
  await page.fill('#field-specialties', 'Tyres');
  await page.click('#workshop-signup-form button[type=submit]');
  await confirmSignUp(browser, page, email);
  await page.waitForURL('**/workshop');
  await page.locator('#workshop-status', { hasText: 'Waiting for approval' }).waitFor();
  await page.locator('#workshop-status-notice').waitFor();
  page.assertNoProblems();
  await page.context().close();
});
