// Faults: the server is killed with SIGKILL in the middle of webhook
// fulfilment, an accept, a session completion and a payout run, then
// restarted; afterwards `autodoctor check` (the consistency suite the
// reconciliation report also runs) finds every order, request, session,
// ledger entry and payout whole and none duplicated. Then the database
// connection drops and returns under a running server: requests fail with 503
// and recover without a restart.
//
// The server stops at a fault point when AUTODOCTOR_FAULTS names it (src/faults.rs):
// it prints `FAULT POINT <name>` and waits inside the open transaction, where
// this test kills it. The test runs on its own database (FAULTS_DATABASE_URL,
// prepared and seeded by scripts/test), so no other test sees its crashes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { BASE_URL, runServerCommand } from '../lib/harness.mjs';
import { Client, DB, assertConsistent, eventually, healthy, startApp } from '../lib/processes.mjs';
import { reportFields } from '../lib/flows.mjs';

test('SIGKILL mid-fulfilment, mid-accept, mid-completion and mid-payout loses and duplicates nothing', async () => {
  assert.ok(DB, 'FAULTS_DATABASE_URL is not set (run the tests through scripts/test)');
  const customer = new Client();
  const ivy = new Client();
  const admin = new Client();
  const problem = `Fault test: rattle at idle ${Date.now()}`;

  // 1. Killed while fulfilling the payment webhook: the sandbox redelivers after
  //    the restart, and the order is paid with one request.
  let app = await startApp({ faults: 'webhook.before_commit' });
  await customer.logIn('customer@autodoctor.test');
  await ivy.logIn('ivy@independent.test');
  await admin.logIn('admin@autodoctor.test');
  const checkoutUrl = await customer.ok('/api/booking/checkout', {
    request_key: crypto.randomUUID(),
    plan_code: 'video15',
    vehicle_make: 'Skoda',
    vehicle_model: 'Octavia',
    vehicle_year: '2015',
    problem_description: problem,
    routing_type: 'broadcast',
  });
  const checkout = checkoutUrl.split('/').pop();
  const paid = await customer.request(`/sandbox/checkout/${checkout}/pay`, { body: 'card_number=4242424242424242' });
  assert.equal(paid.status, 303);
  const orderId = new URL(paid.headers.get('location'), BASE_URL).searchParams.get('order');
  assert.ok(orderId, 'the return URL names the order');
  await app.reachedFault('webhook.before_commit');
  await app.kill();
  await assertConsistent();

  app = await startApp({ faults: 'accept.before_commit' });
  const order = await eventually('the order is paid after redelivery', async () => {
    const o = await customer.ok('/api/booking/order', { order_id: orderId });
    return o.status === 'paid' ? o : null;
  });
  assert.ok(order);
  await assertConsistent();

  // 2. Killed inside the accept's transaction: the request is still open afterwards.
  const offer = await eventually('Ivy is offered the request', async () =>
    (await ivy.ok('/api/mechanic/offers')).find((o) => o.problem === problem),
  );
  ivy.hanging('/api/mechanic/accept', { request_id: offer.request_id });
  await app.reachedFault('accept.before_commit');
  await app.kill();
  await assertConsistent();

  app = await startApp({ faults: 'complete.before_commit' });
  const again = (await ivy.ok('/api/mechanic/offers')).find((o) => o.request_id === offer.request_id);
  assert.ok(again, 'the request is offered again: the killed accept left nothing behind');
  const sessionId = await ivy.ok('/api/mechanic/accept', { request_id: offer.request_id });

  // 3. Killed while completing the session: it is still open afterwards, and
  //    completing it again splits the revenue once.
  await ivy.ok('/api/session/report/save', reportFields(sessionId));
  ivy.hanging('/api/session/end', { session_id: sessionId });
  await app.reachedFault('complete.before_commit');
  await app.kill();
  await assertConsistent();

  app = await startApp({ faults: 'payout.after_transfer' });
  const room = await ivy.ok('/api/session/room', { session_id: sessionId });
  assert.notEqual(String(room.status).toLowerCase(), 'completed', 'the killed completion committed nothing');
  await ivy.ok('/api/session/end', { session_id: sessionId });
  const ended = await ivy.call('/api/session/end', { session_id: sessionId });
  assert.equal(ended.status, 409, 'a session ends once');

  // 4. Killed after the transfer, before the payout is recorded: the next run
  //    finds the same transfer (idempotency key) and records it once.
  const onboarding = await ivy.ok('/api/payouts/start');
  const account = new URL(onboarding, BASE_URL).pathname.split('/').pop();
  const submitted = await ivy.request(`/sandbox/connect/${account}`, {
    body: new URLSearchParams({ legal_name: 'Ivy Independent', routing_number: '110000000', account_number: '000123456789' }).toString(),
  });
  assert.equal(submitted.status, 303);
  await eventually('payouts are enabled for Ivy', async () => {
    const setup = await ivy.ok('/api/payouts/setup');
    return setup.state === 'payouts_enabled' ? setup : null;
  });
  admin.hanging('/api/admin/payouts/run');
  await app.reachedFault('payout.after_transfer');
  await app.kill();

  app = await startApp();
  const summary = await admin.ok('/api/admin/payouts/run');
  assert.match(summary, /payout\(s\) made/);
  const setup = await ivy.ok('/api/payouts/setup');
  assert.equal(setup.pending_cents, 0, 'Ivy was paid everything she was owed');
  const paidOut = setup.last_payouts.filter((p) => String(p.status).toLowerCase() === 'paid');
  assert.equal(paidOut.length, 1, `one payout, paid once: ${JSON.stringify(setup.last_payouts)}`);
  await app.kill();

  await assertConsistent();
  const reconciled = await runServerCommand(['reconcile'], { DATABASE_URL: DB });
  assert.match(reconciled, /no differences/);
});

/** A TCP proxy to PostgreSQL that can drop every connection and refuse new ones. */
function databaseProxy(target) {
  const sockets = new Set();
  let up = true;
  const server = net.createServer((client) => {
    if (!up) return client.destroy();
    const upstream = net.connect(target.port, target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  return {
    async listen() {
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      return server.address().port;
    },
    drop() {
      up = false;
      for (const s of sockets) s.destroy();
    },
    restore() {
      up = true;
    },
    close() {
      this.drop();
      server.close();
    },
  };
}

test('the database dropping and returning: 503 while it is gone, recovery without a restart', async () => {
  assert.ok(DB, 'FAULTS_DATABASE_URL is not set (run the tests through scripts/test)');
  const target = new URL(DB);
  const proxy = databaseProxy(target);
  const port = await proxy.listen();
  const viaProxy = new URL(DB);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(port);
  const app = await startApp({ databaseUrl: viaProxy.toString(), env: { DATABASE_CONNECT_TIMEOUT_SECS: '2' } });
  try {
    const customer = new Client();
    await customer.logIn('customer@autodoctor.test');
    assert.equal((await customer.call('/api/booking/mine')).status, 200);

    proxy.drop();
    // Every kind of request fails cleanly: the health check, public JSON, a
    // logged-in server function and a page, each with 503 and a message.
    assert.equal(await healthy(), 503);
    const directory = await fetch(`${BASE_URL}/api/workshops/directory`);
    assert.equal(directory.status, 503);
    assert.match(await directory.text(), /\w/);
    const mine = await customer.call('/api/booking/mine');
    assert.equal(mine.status, 503, mine.text);
    // In the server functions' error encoding, which the page shows as
    // "The service is temporarily unavailable. Please try again in a moment."
    assert.equal(mine.json(), 'Unavailable');
    const page = await fetch(`${BASE_URL}/account`, { headers: { cookie: customer.cookie, accept: 'text/html' } });
    assert.equal(page.status, 503);
    assert.match(await page.text(), /try again/i);

    proxy.restore();
    await eventually('the server recovers by itself', async () => (await healthy()) === 200);
    const recovered = await customer.call('/api/booking/mine');
    assert.equal(recovered.status, 200, recovered.text);
    assert.equal((await fetch(`${BASE_URL}/api/workshops/directory`)).status, 200);
  } finally {
    await app.kill();
    proxy.close();
  }
});
