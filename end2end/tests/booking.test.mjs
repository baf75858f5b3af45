// Booking: a customer browses the directory, picks a workshop with "only this
// workshop", pays in the sandbox and sees "waiting for a mechanic"; a declined
// card shows a clear message and creates no request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, launchBrowser, openPage, screenshot, startServer, visit } from '../lib/harness.mjs';

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

async function fillBooking(page) {
  await page.fill('#field-vehicle_make', 'Honda');
  await page.fill('#field-vehicle_model', 'Civic');
  await page.fill('#field-vehicle_year', '2014');
  await page.fill('#field-problem_description', 'Engine light on and a rattle at idle since Monday.');
}

test('a customer picks a workshop in the directory, pays in the sandbox and waits for a mechanic', async () => {
  const page = await openPage(browser);
  await logIn(page, 'customer@autodoctor.test');
  await visit(page, '/workshops');
  const cards = page.locator('#directory article');
  await cards.first().waitFor();
  assert.equal(await cards.first().getAttribute('id'), 'any-available', '"Any available" comes first');
  const northside = page.locator('article[data-workshop-name="Northside Auto Clinic"]');
  await northside.waitFor();
  assert.match(await northside.locator('.stat-online').innerText(), /^\d+ \/ \d+$/);
  await screenshot(page, 'directory');

  // Search narrows the list, then pick the workshop.
  await page.fill('#directory-search', 'Portland');
  await page.press('#directory-search', 'Enter');
  await page.waitForURL(/q=Portland/);
  await page.locator('article[data-workshop-name="Harbor Motors"]').waitFor({ state: 'detached' });
  await northside.locator('a', { hasText: 'Book with this workshop' }).click();
  await page.waitForURL(/\/book\?workshop=/);
  await page.waitForSelector('body[data-hydrated="true"]');
  await page.locator('#chosen-workshop', { hasText: 'Northside Auto Clinic' }).waitFor();

  await fillBooking(page);
  await page.check('#routing-workshop_only');
  await page.check('#plan-video15');
  assert.equal(await page.locator('#review-who').innerText(), 'Only mechanics of Northside Auto Clinic');
  assert.equal(await page.locator('#review-total').innerText(), '$29.00');
  await page.check('#routing-hybrid');
  assert.match(await page.locator('#review-who').innerText(), /Northside Auto Clinic first/);
  await page.check('#routing-workshop_only');
  await screenshot(page, 'booking');
  await page.click('#pay-button');

  await page.waitForURL(/\/sandbox\/checkout\//);
  assert.match(await page.locator('.banner').innerText(), /TEST MODE/);
  assert.equal(await page.locator('#amount').innerText(), '$29.00');
  await page.fill('#card_number', '4242 4242 4242 4242');
  await page.fill('#expiry', '12 / 34');
  await page.fill('#cvc', '123');
  await screenshot(page, 'sandbox-checkout');
  await page.click('#sandbox-pay');

  await page.waitForURL(/\/checkout\/return\?order=/);
  await page.locator('#order-state', { hasText: 'Waiting for a mechanic' }).waitFor({ timeout: 20000 });
  await screenshot(page, 'checkout-return');

  await visit(page, '/sessions');
  const order = page.locator('#orders article').first();
  await order.locator('[data-role="order-state"]', { hasText: 'Waiting for a mechanic' }).waitFor();
  assert.match(await order.innerText(), /Only this workshop · Northside Auto Clinic/);
  await screenshot(page, 'my-sessions');
  page.assertNoProblems();
  await page.context().close();
});

test('a declined card shows a clear message and creates no request', async () => {
  const page = await openPage(browser, { expectedStatuses: [402] });
  await logIn(page, 'customer@autodoctor.test');
  await visit(page, '/book');
  await fillBooking(page);
  await page.check('#plan-chat10');
  assert.equal(await page.locator('#review-total').innerText(), '$15.00');
  assert.equal(await page.locator('#review-who').innerText(), 'The first available mechanic');
  await page.click('#pay-button');
  await page.waitForURL(/\/sandbox\/checkout\//);
  await page.fill('#card_number', '4000 0000 0000 0002');
  await page.click('#sandbox-pay');
  await page.locator('#card-error', { hasText: 'Your card was declined' }).waitFor();
  await screenshot(page, 'sandbox-declined');

  // Back in the app, the booking is still awaiting payment; no mechanic is looked for.
  await visit(page, '/sessions');
  const order = page.locator('#orders article').first();
  await order.locator('[data-role="order-state"]', { hasText: 'Awaiting payment' }).waitFor();
  assert.equal(await order.locator('a', { hasText: 'Continue to payment' }).count(), 1);
  const res = await fetch(`${BASE_URL}/healthz`);
  assert.equal(res.status, 200);
  page.assertNoProblems();
  await page.context().close();
});

test('a booking with an inactive workshop is refused with a message', async () => {
  const page = await openPage(browser, { expectedStatuses: [404] });
  await logIn(page, 'customer@autodoctor.test');
  await visit(page, '/book?workshop=00000000-0000-0000-0000-00000a0a0003');
  await page.locator('.error', { hasText: 'not taking bookings' }).waitFor();
  page.assertNoProblems();
  await page.context().close();
});
