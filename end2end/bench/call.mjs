// scripts/bench call: the session call, measured on loopback in Debian's Chromium
// with a fake camera and microphone, against the release server.
//
//   1. 20 calls, one after another, in one session: each time a customer page and a
//      mechanic page join the room afresh. Measured: from both being in the room
//      (the later page's join) to the first decoded video frame on both sides; and
//      every signalling message's trip through the server (sender's POST to the
//      other page's event; both pages share one clock).
//   2. The server's cost per open call: CPU time, resident memory and bytes read
//      and written by the server process (/proc), idle and with N calls open at once
//      (media goes browser to browser, so the bytes stay at signalling and keep-alives).
//
// Writes its section below the marker in BENCHMARKS.md (the server benchmarks keep it).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { launchBrowser, openPage, startServer } from '../lib/harness.mjs';
import { acceptOffer, bookAndPay, logIn, setOnline } from '../lib/flows.mjs';

const CALLS = Number(process.env.BENCH_CALLS ?? 20);
const OPEN = Number(process.env.BENCH_OPEN_CALLS ?? 4);
const SAMPLE_SECS = Number(process.env.BENCH_SAMPLE_SECS ?? 15);
const OUT = process.env.BENCH_OUT ?? 'BENCHMARKS.md';
const MARKER = '<!-- Below: sections written by other scripts/bench commands; kept as they are. -->';

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function proc(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const rchar = Number(/rchar: (\d+)/.exec(io)[1]);
  const wchar = Number(/wchar: (\d+)/.exec(io)[1]);
  return { cpuSecs: ticks / 100, rssKb, bytes: rchar + wchar };
}

async function sample(pid, secs) {
  const a = proc(pid);
  await sleep(secs * 1000);
  const b = proc(pid);
  return { cpuPct: ((b.cpuSecs - a.cpuSecs) / secs) * 100, rssMb: b.rssKb / 1024, bytesPerSec: (b.bytes - a.bytes) / secs };
}

async function connected(page) {
  await page.locator('#call[data-state="connected"]').waitFor({ state: 'attached', timeout: 30000 });
}

async function firstFrame(page) {
  for (let i = 0; i < 200; i++) {
    const t = await page.evaluate(() => window.autodoctorCall?.timings);
    if (t?.firstFrameAt) return t;
    await sleep(50);
  }
  throw new Error('no video frame within 10 s');
}

/** A paid, accepted session; returns the room's path. */
async function newSession(browser, mechanicEmail, n) {
  const mechanic = await openPage(browser);
  await logIn(mechanic, mechanicEmail);
  await setOnline(mechanic, true);
  await mechanic.locator('#offers-card').waitFor();
  const customer = await openPage(browser);
  await logIn(customer, 'customer@autodoctor.test');
  const problem = `Benchmark call number ${n}: a rattle from the exhaust at idle.`;
  await bookAndPay(customer, { plan: 'video15', problem });
  await acceptOffer(mechanic, problem);
  const path = new URL(mechanic.url()).pathname;
  await customer.context().close();
  await mechanic.context().close();
  return path;
}

async function join(browser, email, path) {
  const page = await openPage(browser);
  await logIn(page, email);
  await page.goto(path);
  return page;
}

const server = await startServer({ DATABASE_URL: process.env.DATABASE_URL, LEPTOS_SITE_ROOT: process.env.LEPTOS_SITE_ROOT });
const pid = server.child.pid;
const browser = await launchBrowser({ media: true });
try {
  // One mechanic serves every benchmark session.
  execFileSync('psql', ['-X', '-q', process.env.DATABASE_URL, '-c', "UPDATE mechanics SET capacity = 10 WHERE user_id = (SELECT id FROM users WHERE email = 'sam@harbor.test')"]);
  const rooms = [];
  for (let i = 0; i < Math.max(1, OPEN); i++) rooms.push(await newSession(browser, 'sam@harbor.test', i + 1));

  // 1. Sequential calls in the first room.
  const setup = [];
  const latencies = [];
  for (let i = 0; i < CALLS; i++) {
    const customer = await join(browser, 'customer@autodoctor.test', rooms[0]);
    const mechanic = await join(browser, 'sam@harbor.test', rooms[0]);
    await Promise.all([connected(customer), connected(mechanic)]);
    const [tc, tm] = await Promise.all([firstFrame(customer), firstFrame(mechanic)]);
    const bothIn = Math.max(tc.joinedAt, tm.joinedAt);
    setup.push(Math.max(tc.firstFrameAt, tm.firstFrameAt) - bothIn);
    latencies.push(...tc.signalLatencies, ...tm.signalLatencies);
    await customer.context().close();
    await mechanic.context().close();
    await sleep(300);
  }

  // 2. The server's cost, idle and with OPEN calls at once.
  await sleep(2000);
  const idle = await sample(pid, SAMPLE_SECS);
  const pages = [];
  for (const room of rooms) {
    const c = await join(browser, 'customer@autodoctor.test', room);
    const m = await join(browser, 'sam@harbor.test', room);
    pages.push(c, m);
    await Promise.all([connected(c), connected(m)]);
  }
  await sleep(2000);
  const inboundNow = () => Promise.all(pages.map((p) => p.evaluate(async () => {
    let frames = 0;
    let bytes = 0;
    (await window.autodoctorCall.pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp') bytes += r.bytesReceived ?? 0;
      if (r.type === 'inbound-rtp' && r.kind === 'video') frames += r.framesDecoded ?? 0;
    });
    return { frames, bytes };
  })));
  const before = await inboundNow();
  const busy = await sample(pid, SAMPLE_SECS);
  const afterStats = await inboundNow();
  const frames = afterStats.map((x) => x.frames);
  const mediaBitsPerSec = afterStats.reduce((n, x, i) => n + x.bytes - before[i].bytes, 0) * 8 / SAMPLE_SECS / rooms.length;
  assert.ok(frames.every((n) => n > 0), `every open call carries video: ${frames}`);

  const fmt = (n, d = 0) => n.toFixed(d);
  // Differences below the counters' resolution (CPU time is counted in 10 ms ticks) show as 0.
  const perCall = (k) => Math.max(0, (busy[k] - idle[k]) / rooms.length);
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const section = `${MARKER}

## Session call (WebRTC)

Written by \`scripts/bench call\` (${date} UTC): the release server, PostgreSQL, Chromium (fake camera and microphone, every page in one headless browser) and coturn all on this 2-core machine, on loopback. Host candidates only (no relay forced).

| Measure | p50 | p95 | n |
| --- | --- | --- | --- |
| Both in the room to the first decoded video frame on both sides | ${fmt(pct(setup, 50))} ms | ${fmt(pct(setup, 95))} ms | ${setup.length} calls |
| Signalling message through the server (POST to the other page's event) | ${fmt(pct(latencies, 50))} ms | ${fmt(pct(latencies, 95))} ms | ${latencies.length} messages |

The server's cost, sampled over ${SAMPLE_SECS} s from \`/proc\` of its process, idle and then with ${rooms.length} calls open at once (every call carrying video both ways: ${frames.join(', ')} frames decoded per page):

| | Idle | ${rooms.length} open calls | Per open call |
| --- | --- | --- | --- |
| CPU (counted in 10 ms ticks) | ${fmt(idle.cpuPct, 2)} % | ${fmt(busy.cpuPct, 2)} % | ${fmt(perCall('cpuPct'), 2)} % of a core |
| Resident memory | ${fmt(idle.rssMb, 1)} MB | ${fmt(busy.rssMb, 1)} MB | ${fmt(perCall('rssMb'), 2)} MB |
| Bytes read and written (all sockets and files) | ${fmt(idle.bytesPerSec)} B/s | ${fmt(busy.bytesPerSec)} B/s | ${fmt(perCall('bytesPerSec'))} B/s |

A call's media (${fmt(mediaBitsPerSec / 1000)} kbit/s per call received by its two browsers, from their \`getStats()\`, in the same window) never reaches the server: what an open call costs it is its two live streams' keep-alives and log-in checks.
`;
  const old = (() => { try { return readFileSync(OUT, 'utf8'); } catch { return ''; } })();
  const head = old.includes(MARKER) ? old.slice(0, old.indexOf(MARKER)) : `${old.trimEnd()}\n\n`;
  const rest = old.includes(MARKER) ? old.slice(old.indexOf(MARKER) + MARKER.length) : '';
  // Keep other commands' sections below the marker, replacing this one.
  const others = rest.split(/\n(?=## )/).filter((s) => s.trim() && !s.startsWith('## Session call')).join('\n');
  writeFileSync(OUT, head + section + (others.trim() ? `\n${others.trim()}\n` : ''));
  console.log(section);
} finally {
  await browser.close();
  await server.stop();
}
