// Graceful shutdown: SIGTERM arrives while a request is inside its transaction
// (an accept) and while a payout run is between the gateway's transfer and its
// record. The server stops taking new work, lets both finish, and exits 0: the
// accept's session exists, the payout is recorded once, and `autodoctor check`
// and `reconcile` find everything whole.
//
// The pauses come from fault points armed with a duration (`name@MS`, see
// src/faults.rs): the server prints `FAULT POINT <name>`, waits that long and
// goes on. Runs on the faults database (FAULTS_DATABASE_URL).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, runServerCommand } from '../lib/harness.mjs';
import { Client, DB, assertConsistent, eventually, healthy, startApp } from '../lib/processes.mjs';
import { reportFields } from '../lib/flows.mjs';

const PAUSE_MS = 2500;

async function paidPayouts(ivy) {
  const setup = await ivy.ok('/api/payouts/setup');
  return setup.last_payouts.filter((p) => String(p.status).toLowerCase() === 'paid').length;
}

test('SIGTERM during an accept and during a payout run: both finish, nothing is lost or paid twice', async () => {
  assert.ok(DB, 'FAULTS_DATABASE_URL is not set (run the tests through scripts/test)');
  const customer = new Client();
  const ivy = new Client();
  const admin = new Client();
  const problem = `Shutdown test: squeal when braking ${Date.now()}`;

  let app = await startApp({ faults: `accept.before_commit@${PAUSE_MS}` });
  await customer.logIn('customer@autodoctor.test');
  await ivy.logIn('ivy@independent.test');
  await admin.logIn('admin@autodoctor.test');
  const checkoutUrl = await customer.ok('/api/booking/checkout', {
    request_key: crypto.randomUUID(),
    plan_code: 'video15',
    vehicle_make: 'Renault',
    vehicle_model: 'Clio',
    vehicle_year: '2017',
    problem_description: problem,
    routing_type: 'broadcast',
  });
  const paid = await customer.request(`/sandbox/checkout/${checkoutUrl.split('/').pop()}/pay`, {
    body: 'card_number=4242424242424242',
  });
  assert.equal(paid.status, 303);
  const offer = await eventually('Ivy is offered the request', async () =>
    (await ivy.ok('/api/mechanic/offers')).find((o) => o.problem === problem),
  );

  // 1. SIGTERM while the accept waits inside its transaction.
  const accepting = ivy.call('/api/mechanic/accept', { request_id: offer.request_id });
  await app.reachedFault('accept.before_commit');
  const stopped = app.terminate();
  const accepted = await accepting;
  assert.equal(accepted.status, 200, `the accept in progress completed: ${accepted.text}`);
  const sessionId = accepted.json();
  const first = await stopped;
  assert.equal(first.code, 0, `exited cleanly after SIGTERM (${JSON.stringify(first)}):\n${first.stderr.slice(-2000)}`);
  assert.equal(await healthy(), 0, 'the server is gone');

  // 2. Restarted: the session is there, once; end it so Ivy is owed her share.
  app = await startApp({ faults: `payout.after_transfer@${PAUSE_MS}` });
  const room = await ivy.ok('/api/session/room', { session_id: sessionId });
  assert.equal(room.session_id, sessionId);
  assert.equal((await ivy.call('/api/mechanic/accept', { request_id: offer.request_id })).status, 409, 'taken once');
  await ivy.ok('/api/session/report/save', reportFields(sessionId));
  await ivy.ok('/api/session/end', { session_id: sessionId });

  const setup = await ivy.ok('/api/payouts/setup');
  if (setup.state !== 'payouts_enabled') {
    const onboarding = await ivy.ok('/api/payouts/start');
    const account = new URL(onboarding, BASE_URL).pathname.split('/').pop();
    const submitted = await ivy.request(`/sandbox/connect/${account}`, {
      body: new URLSearchParams({
        legal_name: 'Ivy Independent',
        routing_number: '110000000',
        account_number: '000123456789',
      }).toString(),
    });
    assert.equal(submitted.status, 303);
    await eventually('payouts are enabled for Ivy', async () => {
      const s = await ivy.ok('/api/payouts/setup');
      return s.state === 'payouts_enabled' ? s : null;
    });
  }
  const owed = (await ivy.ok('/api/payouts/setup')).pending_cents;
  assert.ok(owed > 0, 'Ivy is owed her share of the session');
  const paidBefore = await paidPayouts(ivy);

  // 3. SIGTERM between the transfer and its record: the run finishes and records it.
  const running = admin.call('/api/admin/payouts/run');
  await app.reachedFault('payout.after_transfer');
  const stopping = app.terminate();
  const run = await running;
  assert.equal(run.status, 200, `the payout run in progress completed: ${run.text}`);
  assert.match(run.json(), /payout\(s\) made/);
  const second = await stopping;
  assert.equal(second.code, 0, `exited cleanly after SIGTERM (${JSON.stringify(second)}):\n${second.stderr.slice(-2000)}`);

  // 4. Nothing lost, nothing twice: one more paid payout, nothing left owed, and
  //    the gateway and the ledger agree.
  app = await startApp();
  const after = await ivy.ok('/api/payouts/setup');
  assert.equal(after.pending_cents, 0, 'everything Ivy was owed was paid');
  assert.equal(await paidPayouts(ivy), paidBefore + 1, 'exactly one new payout, recorded once');
  const again = await admin.ok('/api/admin/payouts/run');
  assert.doesNotMatch(again, /[1-9]\d* payout\(s\) made/, `a second run pays nothing more: ${again}`);
  await app.kill();
  await assertConsistent();
  assert.match(await runServerCommand(['reconcile'], { DATABASE_URL: DB }), /no differences/);
});
