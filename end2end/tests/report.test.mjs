// The written diagnosis, with three browsers: the mechanic cannot end the session
// before writing the report; they write it (a wrong cost is pointed out on its
// field); the customer sees it live in the room, then under My sessions and on
// the print page; the customer makes a share link that a third, logged-out
// browser opens without seeing anyone's name; revoking the link makes it a 404.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, launchBrowser, openPage, screenshot, startServer, visit } from '../lib/harness.mjs';
import { acceptOffer, bookAndPay, logIn, setOnline } from '../lib/flows.mjs';

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

const PROBLEM = 'Steering wheel shakes above 60 mph since the tyre change.';

test('the mechanic writes the report, the customer sees it and opens the print page, and the share link opens in a third, logged-out context', async () => {
  const res = await fetch(`${BASE_URL}/api/workshops/directory?q=Harbor`);
  const harbor = (await res.json()).workshops.find((w) => w.workshop_name === 'Harbor Motors');

  // The ending refused without a report (409) and the wrong cost (400) are provoked on purpose.
  const mechanic = await openPage(browser, { expectedStatuses: [400, 409] });
  await logIn(mechanic, 'sam@harbor.test');
  await setOnline(mechanic, true);
  const customer = await openPage(browser);
  await logIn(customer, 'customer@autodoctor.test');
  await bookAndPay(customer, { workshopId: harbor.workshop_id, routing: 'workshop_only', problem: PROBLEM });
  await visit(mechanic, '/mechanic');
  await acceptOffer(mechanic, PROBLEM);
  const roomUrl = mechanic.url();
  const sessionId = new URL(roomUrl).pathname.split('/').pop();

  await visit(customer, `/session/${sessionId}`);
  await customer.locator('#report-pending').waitFor();

  // Ending first is refused with a sentence, and the session stays open.
  await mechanic.click('#end-form button[type=submit]');
  await mechanic.locator('.form-error', { hasText: 'Write the diagnosis report before ending the session.' }).waitFor();
  assert.notEqual(await mechanic.locator('#session-status').innerText(), 'Completed');

  // A negative cost is pointed out on its field; nothing is saved.
  await mechanic.fill('#report-summary', 'Front wheels out of balance; the left tyre has a flat spot.');
  await mechanic.fill('#report-likely-causes', 'Balancing weights lost at the tyre change.');
  await mechanic.check('#safe-with_care');
  await mechanic.fill('#repair-0-description', 'Balance both front wheels');
  await mechanic.selectOption('#repair-0-urgency', 'soon');
  await mechanic.fill('#repair-0-cost_min', '-40');
  await mechanic.click('#report-form button[type=submit]');
  await mechanic.locator('#report-form .field-error', { hasText: 'Costs cannot be negative.' }).waitFor();
  assert.equal(await customer.locator('#report-pending').count(), 1);

  // Corrected, with a second repair and a follow-up: saved, and live in the customer's room.
  await mechanic.fill('#repair-0-cost_min', '$40');
  await mechanic.fill('#repair-0-cost_max', '60.50');
  await mechanic.fill('#repair-1-description', 'Replace the front left tyre');
  await mechanic.selectOption('#repair-1-urgency', 'can_wait');
  await mechanic.fill('#repair-1-cost_min', '1,20');
  await mechanic.click('#report-form button[type=submit]');
  await mechanic.locator('#report-form .field-error', { hasText: 'Write an amount like 120 or 120.50.' }).waitFor();
  await mechanic.fill('#repair-1-cost_min', '120');
  await mechanic.fill('#repair-1-cost_max', '180');
  await mechanic.fill('#report-follow-ups', 'Check the tyre pressures after a week.');
  await mechanic.click('#report-form button[type=submit]');
  await mechanic.locator('#report-saved').waitFor();
  const view = customer.locator('#report-view');
  await view.waitFor({ timeout: 20000 });
  assert.match(await view.innerText(), /Front wheels out of balance/);
  assert.match(await view.innerText(), /\$40\.00 – \$60\.50/);
  assert.match(await view.innerText(), /\$120\.00 – \$180\.00/);
  assert.match(await customer.locator('#report-safe').innerText(), /with care/);
  await screenshot(customer, 'report-in-room');

  // Now the mechanic can end it; both see the report, read-only.
  await mechanic.click('#end-form button[type=submit]');
  await mechanic.locator('#session-status', { hasText: 'Completed' }).waitFor();
  await mechanic.locator('#report-view').waitFor();
  assert.equal(await mechanic.locator('#report-form').count(), 0, 'the report is closed with the session');
  await customer.locator('#session-status', { hasText: 'Completed' }).waitFor({ timeout: 20000 });

  // My sessions links to the report's print-ready page.
  await visit(customer, '/sessions');
  const reportLink = customer.locator(`a[data-role="report-link"][href="/session/${sessionId}/report"]`);
  await reportLink.click();
  await customer.waitForURL(new RegExp(`/session/${sessionId}/report$`));
  await customer.waitForSelector('body[data-hydrated="true"]');
  const printable = customer.locator('#report-page');
  assert.match(await printable.innerText(), /2017 Subaru Outback/);
  assert.match(await printable.innerText(), /Sam Sato of Harbor Motors/);
  assert.match(await printable.innerText(), /Balance both front wheels/);
  await customer.locator('#print-button').waitFor();
  await customer.emulateMedia({ media: 'print' });
  assert.equal(await customer.locator('.site-header').isVisible(), false, 'the print layout drops the navigation');
  assert.equal(await customer.locator('#share-card').isVisible(), false, 'and the share controls');
  assert.equal(await printable.isVisible(), true);
  await screenshot(customer, 'report-print');
  await customer.emulateMedia({ media: 'screen' });

  // The customer makes a share link.
  await customer.click('#share-form button[type=submit]');
  const shareInput = customer.locator('#share-url');
  await shareInput.waitFor();
  const shareUrl = await shareInput.inputValue();
  assert.match(shareUrl, new RegExp(`^${BASE_URL}/report/[A-Za-z0-9_-]{43}$`));
  await customer.locator('#share-links li[data-active="true"]').waitFor();

  // A third browser, logged out, opens it: the report and the vehicle, nobody's name.
  const garage = await openPage(browser, { expectedStatuses: [404] });
  await visit(garage, shareUrl);
  const shared = garage.locator('#shared-report');
  await shared.waitFor();
  const text = await garage.locator('body').innerText();
  assert.match(text, /Front wheels out of balance/);
  assert.match(text, /2017 Subaru Outback/);
  assert.match(text, /Replace the front left tyre/);
  const html = await garage.content();
  for (const personal of ['Casey Customer', 'customer@autodoctor.test', 'Sam Sato', 'sam@harbor.test', 'Harbor Motors', PROBLEM]) {
    assert.ok(!html.includes(personal), `the shared page shows ${personal}`);
  }
  assert.equal(await garage.locator('meta[name="robots"]').getAttribute('content'), 'noindex, nofollow');
  assert.equal(await garage.locator('#signed-in-as').count(), 0, 'nobody is logged in there');
  await screenshot(garage, 'report-shared');

  // The customer revokes it: the link answers 404 with a message.
  await customer.click('#share-links li[data-active="true"] button[type=submit]');
  await customer.locator('#share-links li[data-active="false"]').waitFor();
  assert.equal(await customer.locator('#share-links li[data-active="true"]').count(), 0);
  const gone = await garage.goto(shareUrl, { waitUntil: 'load' });
  assert.equal(gone.status(), 404);
  await garage.locator('#shared-report-missing', { hasText: 'revoked' }).waitFor();
  assert.equal(await garage.locator('#shared-report').count(), 0);
  assert.ok(!(await garage.content()).includes('Front wheels out of balance'));

  mechanic.assertNoProblems();
  customer.assertNoProblems();
  garage.assertNoProblems();
  await mechanic.context().close();
  await customer.context().close();
  await garage.context().close();
});
