// The session itself, in two browser contexts with a fake camera and microphone:
// the call connects and carries video and audio both ways, survives a reload and
// a hang-up, goes through a real coturn relay when forced to, closes when the
// plan's (shortened) minutes run out while the chat stays open, and the chat
// plan's room has no call at all.
//
// These tests leave sessions open, so they run on a database of their own
// (CALL_DATABASE_URL, seeded by scripts/test); scripts/test also starts coturn
// and passes TURN_URLS and TURN_SECRET.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, openPage, screenshot, startServer, visit } from '../lib/harness.mjs';
import { acceptOffer, bookAndPay, logIn, setOnline } from '../lib/flows.mjs';

const DB = process.env.CALL_DATABASE_URL;
let server;
let browser;

async function restart(env = {}) {
  await server?.stop();
  server = await startServer({ DATABASE_URL: DB, ...env });
}

before(async () => {
  assert.ok(DB, 'CALL_DATABASE_URL is not set (run the tests through scripts/test)');
  browser = await launchBrowser({ media: true });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A paid session of `plan` taken by `mechanicEmail`; both pages end up in the room. */
async function session(mechanicEmail, { plan = 'video15', problem }) {
  const mechanic = await openPage(browser);
  await logIn(mechanic, mechanicEmail);
  await setOnline(mechanic, true);
  await mechanic.locator('#offers-card').waitFor();
  const customer = await openPage(browser);
  await logIn(customer, 'customer@autodoctor.test');
  await bookAndPay(customer, { plan, problem });
  await acceptOffer(mechanic, problem);
  await customer.locator('#open-room').click();
  await customer.waitForURL(/\/session\//);
  await customer.waitForSelector('body[data-hydrated="true"]');
  assert.equal(new URL(customer.url()).pathname, new URL(mechanic.url()).pathname);
  return { customer, mechanic };
}

async function callState(page, state, timeout = 30000) {
  await page.locator(`#call[data-state="${state}"]`).waitFor({ state: 'attached', timeout });
}

/** Inbound media so far, from the page's own peer connection. */
async function inbound(page) {
  return await page.evaluate(async () => {
    const pc = window.autodoctorCall?.pc;
    if (!pc) return null;
    const out = { framesDecoded: 0, audioPackets: 0, localCandidateType: null };
    const stats = await pc.getStats();
    stats.forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') out.framesDecoded += r.framesDecoded ?? 0;
      if (r.type === 'inbound-rtp' && r.kind === 'audio') out.audioPackets += r.packetsReceived ?? 0;
      if (r.type === 'candidate-pair' && r.state === 'succeeded' && r.nominated) {
        out.localCandidateType = stats.get(r.localCandidateId)?.candidateType ?? null;
      }
    });
    return out;
  });
}

/** Waits until both kinds of media have arrived on `page`. */
async function mediaFlows(page, label) {
  let last = null;
  for (let i = 0; i < 60; i++) {
    last = await inbound(page);
    if (last && last.framesDecoded > 0 && last.audioPackets > 0) return last;
    await page.waitForTimeout(250);
  }
  assert.fail(`${label}: no inbound media: ${JSON.stringify(last)}`);
}

test('the call connects with video and audio both ways, and comes back after a reload and a hang-up', async () => {
  await restart();
  const { customer, mechanic } = await session('sam@harbor.test', {
    problem: 'Whining noise from the engine bay when accelerating, video call test.',
  });
  await callState(customer, 'connected');
  await callState(mechanic, 'connected');
  const c = await mediaFlows(customer, 'customer');
  const m = await mediaFlows(mechanic, 'mechanic');
  assert.ok(c.framesDecoded > 0 && c.audioPackets > 0, JSON.stringify(c));
  assert.ok(m.framesDecoded > 0 && m.audioPackets > 0, JSON.stringify(m));
  // Both are in the room: the clock runs for both.
  await customer.locator('#session-clock[data-phase="running"]').waitFor();
  await mechanic.locator('#session-clock[data-phase="running"]').waitFor();
  assert.match(await customer.locator('#session-clock').innerText(), /1[45]:\d\d left/);
  // The controls work: mute shows as pressed and disables the track.
  await customer.click('#call-mute');
  assert.equal(await customer.locator('#call-mute').getAttribute('aria-pressed'), 'true');
  assert.equal(await customer.evaluate(() => window.autodoctorCall.track('audio').enabled), false);
  await customer.click('#call-mute');
  await screenshot(customer, 'session-call');

  // The customer reloads: the call comes back on a new connection.
  await customer.reload();
  await customer.waitForSelector('body[data-hydrated="true"]');
  await callState(customer, 'connected');
  await callState(mechanic, 'connected');
  const again = await mediaFlows(customer, 'customer after reload');
  assert.ok(again.framesDecoded > 0);
  await mediaFlows(mechanic, 'mechanic after the customer reloaded');

  // The mechanic hangs up: the customer sees it; the mechanic rejoins.
  await mechanic.click('#call-hangup');
  await callState(mechanic, 'hung-up');
  await callState(customer, 'left');
  assert.match(await customer.locator('#call-status').innerText(), /left the call/);
  await mechanic.click('#call-rejoin');
  await callState(mechanic, 'connected');
  await callState(customer, 'connected');
  await mediaFlows(mechanic, 'mechanic after rejoining');
  customer.assertNoProblems();
  mechanic.assertNoProblems();
  await customer.context().close();
  await mechanic.context().close();
});

test('forced through the relay, the call connects through coturn', async () => {
  assert.ok(process.env.TURN_URLS && process.env.TURN_SECRET, 'scripts/test starts coturn and sets TURN_URLS');
  await restart({ ICE_TRANSPORT_POLICY: 'relay' });
  const { customer, mechanic } = await session('mia@northside.test', {
    problem: 'Brake pedal goes soft after a long descent, relay call test.',
  });
  await callState(customer, 'connected');
  await callState(mechanic, 'connected');
  const ice = await customer.evaluate(() => window.autodoctorCall.ice);
  assert.equal(ice.iceTransportPolicy, 'relay');
  assert.match(ice.iceServers[0].username, /^\d+:[0-9a-f]{32}-c$/, 'a per-session, expiring TURN username');
  const c = await mediaFlows(customer, 'customer via relay');
  const m = await mediaFlows(mechanic, 'mechanic via relay');
  assert.equal(c.localCandidateType, 'relay', JSON.stringify(c));
  assert.equal(m.localCandidateType, 'relay', JSON.stringify(m));
  customer.assertNoProblems();
  mechanic.assertNoProblems();
  await customer.context().close();
  await mechanic.context().close();
});

test('when the plan time runs out the call closes and the chat stays open', async () => {
  // A "minute" of one second: the 15-minute plan lasts 15 s, warns 2 s before, closes 3 s after.
  await restart({ SESSION_SECONDS_PER_MINUTE: '1', CALL_GRACE_SECS: '3' });
  const { customer, mechanic } = await session('ivy@independent.test', {
    problem: 'Check engine light after refuelling, clock test for the call.',
  });
  await callState(customer, 'connected');
  await mediaFlows(customer, 'customer');
  await customer.locator('#clock-warning').waitFor({ timeout: 20000 });
  assert.match(await customer.locator('#clock-warning').innerText(), /two minutes left/i);
  await mechanic.locator('#session-clock[data-phase="grace"]').waitFor({ timeout: 20000 });
  await callState(customer, 'closed', 20000);
  await callState(mechanic, 'closed', 20000);
  assert.match(await customer.locator('#call-status').innerText(), /time is up/i);
  assert.equal(await customer.evaluate(() => window.autodoctorCall.pc), null, 'the peer connection is closed');
  assert.equal(await customer.locator('#call-hangup').isVisible(), false, 'no call controls once closed');
  await customer.locator('#session-clock[data-phase="over"]').waitFor();
  // The chat stays open for the written diagnosis.
  await mechanic.fill('#chat-input', 'Time is up; I am writing up what we saw.');
  await mechanic.click('#chat-form button[type=submit]');
  await customer.locator('#chat-log .chat-line', { hasText: 'writing up what we saw' }).waitFor();
  customer.assertNoProblems();
  mechanic.assertNoProblems();
  await customer.context().close();
  await mechanic.context().close();
});

test('the chat plan room has no call controls', async () => {
  await restart();
  const { customer, mechanic } = await session('leo@northside.test', {
    plan: 'chat10',
    problem: 'Which oil grade suits an old diesel? Chat plan test.',
  });
  for (const page of [customer, mechanic]) {
    assert.equal(await page.locator('#call').count(), 0);
    assert.equal(await page.locator('#call-hangup').count(), 0);
    assert.equal(await page.locator('#call-heading').count(), 0);
    await page.locator('#session-clock').waitFor();
  }
  assert.match(await customer.locator('#clock-heading').innerText(), /10 min/);
  customer.assertNoProblems();
  await customer.context().close();
  await mechanic.context().close();
});
