// Payouts: a workshop owner completes sandbox onboarding, the admin runs a
// payout and the earnings panel shows it paid; a partial refund shows on the
// customer's page and reduces the owner's pending balance.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, launchBrowser, openPage, screenshot, startServer, visit } from '../lib/harness.mjs';
import { acceptOffer, bookAndPay, logIn, setOnline, writeReport } from '../lib/flows.mjs';

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

function cents(text) {
  return Math.round(Number(text.replace(/[^0-9.-]/g, '')) * 100);
}

async function serveOne(customer, sam, harborId, problem) {
  const orderUrl = await bookAndPay(customer, { workshopId: harborId, routing: 'workshop_only', problem });
  await acceptOffer(sam, problem);
  await writeReport(sam);
  await sam.click('#end-form button[type=submit]');
  await sam.locator('#session-status', { hasText: 'Completed' }).waitFor();
  await visit(sam, '/mechanic');
  return orderUrl;
}

test('onboarding, a payout marked paid, and a partial refund', async () => {
  const harbor = (await (await fetch(`${BASE_URL}/api/workshops/directory?q=Harbor`)).json()).workshops[0];
  const sam = await openPage(browser);
  await logIn(sam, 'sam@harbor.test');
  await setOnline(sam, true);
  // What the workshop had before this test (other tests may have earned it money).
  const owner = await openPage(browser);
  await logIn(owner, 'owner@harbor.test');
  await visit(owner, '/workshop/earnings');
  const pending0 = cents(await owner.locator('#pending-total').innerText());
  const paid0 = cents(await owner.locator('#paid-total').innerText());

  const customer = await openPage(browser);
  await logIn(customer, 'customer@autodoctor.test');
  await serveOne(customer, sam, harbor.workshop_id, `Coolant smell after long drives ${Date.now()}`);
  await visit(owner, '/workshop/earnings');
  assert.equal(cents(await owner.locator('#pending-total').innerText()), pending0 + 2320, "the workshop's 80% of $29.00");

  // The owner sets up payouts in the sandbox. The demo data has no payout
  // account for Harbor, and no other test makes one: the steps always run.
  await visit(owner, '/workshop/payouts');
  assert.equal(await owner.locator('#onboarding-state').innerText(), 'Not started');
  await owner.click('#payout-setup-form button[type=submit]');
  await owner.waitForURL(/\/sandbox\/connect\//);
  assert.match(await owner.locator('.banner').innerText(), /TEST MODE/);
  await screenshot(owner, 'sandbox-onboarding');
  await owner.click('#sandbox-connect-submit');
  await owner.waitForURL(/\/workshop\/payouts\?onboarding=return/);
  await owner.locator('#onboarding-state', { hasText: 'Payouts enabled' }).waitFor();
  await screenshot(owner, 'payout-setup');

  // The admin pays out now.
  const admin = await openPage(browser);
  await logIn(admin, 'admin@autodoctor.test');
  await visit(admin, '/admin/payouts');
  await admin.click('#run-payouts-form button[type=submit]');
  await admin.locator('#payout-result', { hasText: 'payout(s) made' }).waitFor();
  await screenshot(admin, 'admin-payouts');

  // The earnings panel shows the session paid, with the transfer id.
  await visit(owner, '/workshop/earnings');
  const paidRow = owner.locator('#earnings-rows tbody tr').first();
  assert.match(await paidRow.innerText(), /Paid/);
  assert.match(await paidRow.innerText(), /tr_sbx_/);
  assert.equal(cents(await owner.locator('#pending-total').innerText()), 0);
  assert.equal(cents(await owner.locator('#paid-total').innerText()), paid0 + pending0 + 2320, 'everything pending was paid out');

  // A second session earns 80% of $29.00, then $10.00 of it is refunded.
  const problem2 = `Door lock actuator buzzing ${Date.now()}`;
  const orderUrl = await serveOne(customer, sam, harbor.workshop_id, problem2);
  const orderId = new URL(orderUrl).searchParams.get('order');
  await visit(owner, '/workshop/earnings');
  assert.equal(cents(await owner.locator('#pending-total').innerText()), 2320);

  await visit(admin, '/admin/orders');
  const row = admin.locator(`#admin-orders tr[data-order-id="${orderId}"]`);
  await row.locator('input[name=amount]').fill('10.00');
  await row.locator('input[name=reason]').fill('Part of the diagnosis was not possible');
  await row.locator('button', { hasText: 'Refund' }).click();
  await admin.locator('#refund-result', { hasText: 'Refunded $10.00' }).waitFor();

  await visit(customer, '/sessions');
  const card = customer.locator(`#orders article[data-order-id="${orderId}"]`);
  assert.match(await card.innerText(), /refunded \$10\.00/);
  await visit(owner, '/workshop/earnings');
  assert.equal(cents(await owner.locator('#pending-total').innerText()), 2320 - 800, 'the refund took back 80% of $10.00');

  // And the books agree with the provider.
  await visit(admin, '/admin/reconciliation');
  await admin.click('#reconcile-form button[type=submit]');
  await admin.locator('#no-differences').waitFor();

  for (const p of [sam, customer, owner, admin]) {
    p.assertNoProblems();
    await p.context().close();
  }
});
