// The heart of the product, with two browsers: a mechanic's dashboard is open;
// a customer pays; the offer appears live; the mechanic accepts; they chat; the
// mechanic ends the session; the customer rates it; the directory card changes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, launchBrowser, openPage, screenshot, startServer, visit } from '../lib/harness.mjs';
import { setOnline, writeReport } from '../lib/flows.mjs';

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

async function harborCard() {
  const res = await fetch(`${BASE_URL}/api/workshops/directory?q=Harbor`);
  const body = await res.json();
  return body.workshops.find((w) => w.workshop_name === 'Harbor Motors');
}

test('offer appears live, is accepted, chatted about, ended, rated, and the directory changes', async () => {
  const before = await harborCard();

  // The mechanic (Sam, Harbor Motors, online in the demo data) watches the dashboard.
  const mechanic = await openPage(browser);
  await logIn(mechanic, 'sam@harbor.test');
  assert.match(mechanic.url(), /\/mechanic$/);
  await setOnline(mechanic, true);
  await mechanic.locator('#offers-card').waitFor();

  // The customer books Harbor Motors only, and pays.
  const customer = await openPage(browser);
  await logIn(customer, 'customer@autodoctor.test');
  await visit(customer, `/book?workshop=${before.workshop_id}`);
  await customer.fill('#field-vehicle_make', 'Volkswagen');
  await customer.fill('#field-vehicle_model', 'Golf');
  await customer.fill('#field-vehicle_year', '2011');
  await customer.fill('#field-problem_description', 'Battery light flickers and the radio resets on its own.');
  await customer.check('#routing-workshop_only');
  await customer.click('#pay-button');
  await customer.waitForURL(/\/sandbox\/checkout\//);
  await customer.fill('#card_number', '4242 4242 4242 4242');
  await customer.click('#sandbox-pay');
  await customer.waitForURL(/\/checkout\/return\?order=/);
  await customer.locator('#order-state', { hasText: 'Waiting for a mechanic' }).waitFor();
  const orderUrl = customer.url();

  // Without any reload, the offer shows up on the mechanic's dashboard, highlighted.
  const offer = mechanic.locator('#offers li.offer', { hasText: 'Battery light flickers' });
  await offer.waitFor({ timeout: 20000 });
  assert.match(await offer.getAttribute('class'), /preferred/);
  assert.equal(await offer.getAttribute('data-priority'), '100');
  await screenshot(mechanic, 'mechanic-offers');
  await offer.locator('button', { hasText: 'Accept' }).click();
  await mechanic.waitForURL(/\/session\//);
  await mechanic.waitForSelector('body[data-hydrated="true"]');

  // The customer's page moves on by itself: taken by Sam of Harbor Motors.
  await customer.locator('#order-mechanic', { hasText: 'Sam Sato of Harbor Motors' }).waitFor({ timeout: 20000 });
  await customer.locator('#open-room').click();
  await customer.waitForURL(/\/session\//);
  await customer.waitForSelector('body[data-hydrated="true"]');

  // They chat, live in both directions.
  await customer.fill('#chat-input', 'Hi Sam, it started after a jump start.');
  await customer.click('#chat-form button[type=submit]');
  await mechanic.locator('#chat-log', { hasText: 'it started after a jump start' }).waitFor({ timeout: 20000 });
  await mechanic.locator('#session-status', { hasText: 'In session' }).waitFor();
  await mechanic.fill('#chat-input', 'Likely the alternator regulator. Check the belt too.');
  await mechanic.click('#chat-form button[type=submit]');
  await customer.locator('#chat-log', { hasText: 'alternator regulator' }).waitFor({ timeout: 20000 });
  await screenshot(customer, 'session-room');

  // The mechanic writes the report and ends it; the customer is asked for a rating, live.
  await writeReport(mechanic, {
    summary: 'The alternator regulator is failing.',
    repairs: [{ description: 'Replace the alternator', urgency: 'now', min: '350', max: '520' }],
  });
  await mechanic.click('#end-form button[type=submit]');
  await mechanic.locator('#session-status', { hasText: 'Completed' }).waitFor();
  await customer.locator('#rate-form').waitFor({ timeout: 20000 });
  await customer.check('#rating-5');
  await customer.fill('#rating-comment', 'Spot on, thank you.');
  await customer.click('#rate-form button[type=submit]');
  await customer.locator('#rated', { hasText: 'Rated 5 of 5' }).waitFor({ timeout: 20000 });

  await customer.goto(orderUrl);
  await customer.locator('#order-state', { hasText: 'Completed' }).waitFor();

  // The directory's numbers for Harbor Motors have moved.
  const after_ = await harborCard();
  assert.equal(after_.total_sessions, before.total_sessions + 1);
  assert.equal(after_.rating_count, before.rating_count + 1);
  assert.ok(after_.median_accept_seconds !== null);
  await visit(customer, '/workshops?q=Harbor');
  const card = customer.locator('article[data-workshop-name="Harbor Motors"]');
  assert.equal(await card.locator('.stat-sessions').innerText(), String(after_.total_sessions));
  assert.match(await card.locator('.stat-rating').innerText(), /★/);

  mechanic.assertNoProblems();
  customer.assertNoProblems();
  await mechanic.context().close();
  await customer.context().close();
});
