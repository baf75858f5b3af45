// Faults: the server is killed with SIGKILL in the middle of webhook
// fulfilment, an accept, a session completion, a payout run and a refund
// (after the gateway answered, before the books record it), then
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
import { execFile } from 'node:child_process';
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
  // At the gateway: one transfer to Ivy's account, for what the books paid her, under the payout's key.
  const [transfers, transferred, booked] = (
    await sql(`SELECT count(*), coalesce(sum(t.amount_cents), 0),
                      (SELECT coalesce(sum(amount_cents), 0) FROM payouts WHERE destination = '${account}' AND status = 'paid')
                 FROM sandbox_transfers t WHERE t.destination = '${account}'
                  AND t.idempotency_key IN (SELECT idempotency_key FROM payouts WHERE destination = '${account}')`)
  ).split('|');
  assert.equal(transfers, '1', 'one transfer at the gateway, made once');
  assert.equal(transferred, booked, 'the gateway sent what the books paid out, to the cent');
  await app.kill();

  await assertConsistent();
  const reconciled = await runServerCommand(['reconcile'], { DATABASE_URL: DB });
  assert.match(reconciled, /no differences/);
});

test('SIGKILL after the gateway refunded, before the books record it: the retry refunds once', async () => {
  assert.ok(DB, 'FAULTS_DATABASE_URL is not set (run the tests through scripts/test)');
  const customer = new Client();
  const admin = new Client();
  let app = await startApp({ faults: 'refund.after_gateway' });
  await customer.logIn('customer@autodoctor.test');
  await admin.logIn('admin@autodoctor.test');
  const orderId = await paidOrder(customer, `Fault test: refund ${Date.now()}`);
  const paymentIntent = await sql(`SELECT payment_intent_id FROM orders WHERE id = '${orderId}'`);
  assert.ok(paymentIntent, 'the order is paid through the gateway');
  const refund = { order_id: orderId, amount: '5.00', reason: 'Fault test: partly unhappy' };

  admin.hanging('/api/admin/refund', refund);
  await app.reachedFault('refund.after_gateway');
  await app.kill();
  // The gateway has refunded; the books have not: reconcile says so.
  assert.equal(await sql(`SELECT count(*) FROM sandbox_refunds WHERE payment_intent = '${paymentIntent}'`), '1');
  assert.equal(await sql(`SELECT string_agg(status::text, ',') FROM refunds WHERE order_id = '${orderId}'`), 'pending');
  await assert.rejects(runServerCommand(['reconcile'], { DATABASE_URL: DB }), /exited 1/, 'the unbooked refund is a difference');
  await assertConsistent();

  // The admin asks again: the same refund (same idempotency key) is finished and booked once.
  app = await startApp();
  assert.match(await admin.ok('/api/admin/refund', refund), /Refunded \$5\.00/);
  const [atGateway, gatewayCents, keys] = (
    await sql(`SELECT count(*), sum(amount_cents), string_agg(idempotency_key, ',') FROM sandbox_refunds
                WHERE payment_intent = '${paymentIntent}'`)
  ).split('|');
  assert.equal(atGateway, '1', 'one refund at the gateway');
  assert.equal(gatewayCents, '500');
  const [rows, succeeded, key, refunded] = (
    await sql(`SELECT count(*), count(*) FILTER (WHERE status = 'succeeded'), max(idempotency_key),
                      (SELECT amount_refunded_cents FROM orders WHERE id = '${orderId}')
                 FROM refunds WHERE order_id = '${orderId}'`)
  ).split('|');
  assert.deepEqual([rows, succeeded, refunded], ['1', '1', '500'], 'one refund row, booked once, to the cent');
  assert.equal(key, keys, 'the retry used the same idempotency key');
  const [entries, cash] = (
    await sql(`SELECT count(DISTINCT e.id), sum(p.amount_cents) FROM journal_entries e
                 JOIN postings p ON p.entry_id = e.id JOIN ledger_accounts a ON a.id = p.account_id AND a.kind = 'gateway_cash'
                WHERE e.kind = 'refund' AND e.idempotency_key = 'refund:' || (SELECT id FROM refunds WHERE order_id = '${orderId}')`)
  ).split('|');
  assert.deepEqual([entries, cash], ['1', '-500'], 'one journal entry: the cash left once');
  await app.kill();

  await assertConsistent();
  assert.match(await runServerCommand(['reconcile'], { DATABASE_URL: DB }), /no differences/);
});

/** The customer books and pays with the sandbox card; resolves with the order's id once it is paid. */
async function paidOrder(customer, problem) {
  const checkoutUrl = await customer.ok('/api/booking/checkout', {
    request_key: crypto.randomUUID(),
    plan_code: 'video15',
    vehicle_make: 'Skoda',
    vehicle_model: 'Fabia',
    vehicle_year: '2017',
    problem_description: problem,
    routing_type: 'broadcast',
  });
  const paid = await customer.request(`/sandbox/checkout/${checkoutUrl.split('/').pop()}/pay`, {
    body: 'card_number=4242424242424242',
  });
  assert.equal(paid.status, 303);
  const orderId = new URL(paid.headers.get('location'), BASE_URL).searchParams.get('order');
  await eventually('the order is paid', async () => {
    const o = await customer.ok('/api/booking/order', { order_id: orderId });
    return o.status === 'paid';
  });
  return orderId;
}

/** One SQL query on the faults database: its rows, columns separated by `|`. */
function sql(query) {
  return new Promise((resolve, reject) =>
    execFile('psql', ['-X', '-tA', '-v', 'ON_ERROR_STOP=1', DB, '-c', query], (err, out, stderr) =>
      err ? reject(new Error(`${err.message}: ${stderr}`)) : resolve(out.trim()),
    ),
  );
}

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
