// Earnings: after sessions end, the workshop owner's panel and the independent
// mechanic's page show the right pending amounts.
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

function dollars(text) {
  return Math.round(Number(text.replace(/[^0-9.-]/g, '')) * 100);
}

async function endSession(mechanic) {
  await writeReport(mechanic);
  await mechanic.click('#end-form button[type=submit]');
  await mechanic.locator('#session-status', { hasText: 'Completed' }).waitFor();
}

test("the owner's panel and the independent mechanic's page show what they earned", async () => {
  const res = await fetch(`${BASE_URL}/api/workshops/directory?q=Northside`);
  const northside = (await res.json()).workshops[0];

  const owner = await openPage(browser);
  await logIn(owner, 'owner@northside.test');
  await visit(owner, '/workshop/earnings');
  const pendingBefore = dollars(await owner.locator('#pending-total').innerText());

  // Mia (Northside) serves a $29 session booked with Northside only.
  const mia = await openPage(browser);
  await logIn(mia, 'mia@northside.test');
  await setOnline(mia, true);
  const customer = await openPage(browser);
  await logIn(customer, 'customer@autodoctor.test');
  const problem1 = `Squeal from the belt on cold mornings ${Date.now()}`;
  await bookAndPay(customer, { workshopId: northside.workshop_id, routing: 'workshop_only', problem: problem1 });
  await acceptOffer(mia, problem1);
  await endSession(mia);

  // Ivy (independent) serves a $15 "any available" session.
  const ivy = await openPage(browser);
  await logIn(ivy, 'ivy@independent.test');
  await visit(ivy, '/mechanic/earnings');
  const ivyBefore = dollars(await ivy.locator('#pending-total').innerText());
  await setOnline(ivy, true);
  // Others online would also be offered it: take them offline so Ivy is the one.
  const others = [];
  for (const email of ['sam@harbor.test', 'mia@northside.test']) {
    const other = await openPage(browser);
    await logIn(other, email);
    await setOnline(other, false);
    others.push(other);
  }
  const problem2 = `Rear wiper stopped working ${Date.now()}`;
  await bookAndPay(customer, { plan: 'chat10', problem: problem2 });
  await acceptOffer(ivy, problem2);
  await endSession(ivy);

  // The owner's pending grows by 80% of $29.00; the session is a row.
  await visit(owner, '/workshop/earnings');
  assert.equal(dollars(await owner.locator('#pending-total').innerText()) - pendingBefore, 2320);
  const row = owner.locator('#earnings-rows tbody tr').first();
  assert.match(await row.innerText(), /Mia Mechanic/);
  assert.match(await row.innerText(), /\$23\.20/);
  assert.match(await row.innerText(), /Pending/);
  await screenshot(owner, 'workshop-earnings');
  const csv = await owner.evaluate(async () => (await fetch('/workshop/earnings.csv')).text());
  assert.match(csv.split('\n')[0], /^date,session,mechanic,plan,kind,gross,platform_fee,referral,net,currency,status,pending,paid$/);
  assert.match(csv, /Mia Mechanic,Video diagnosis,Session,29\.00,5\.80,0\.00,23\.20,USD,pending,23\.20,0\.00/);

  // Ivy's page shows her 80% of $15.00.
  await visit(ivy, '/mechanic/earnings');
  assert.equal(dollars(await ivy.locator('#pending-total').innerText()) - ivyBefore, 1200);
  assert.match(await ivy.locator('#mechanic-earnings tbody tr').first().innerText(), /\$12\.00/);
  await screenshot(ivy, 'mechanic-earnings');

  // Mia's page says her workshop pays her.
  await visit(mia, '/mechanic/earnings');
  await mia.locator('#paid-by-workshop', { hasText: 'Northside Auto Clinic' }).waitFor();

  // Leave the demo mechanics online, as the demo data has them.
  for (const other of others) {
    await setOnline(other, true);
    await other.context().close();
  }
  for (const p of [owner, mia, customer, ivy]) {
    p.assertNoProblems();
    await p.context().close();
  }
});
