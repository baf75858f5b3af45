// Shared by the tests that start and stop servers themselves (faults, shutdown):
// a server process with fault points armed, a cookie-jar client that calls
// server functions as the hydrated app does, and polling helpers.
//
// The server stops at a fault point when AUTODOCTOR_FAULTS names it (src/faults.rs):
// it prints `FAULT POINT <name>` and waits there (an hour, or `name@MS` milliseconds).
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { BASE_URL, runServerCommand, serverEnv } from './harness.mjs';

export const DB = process.env.FAULTS_DATABASE_URL;
const running = new Set();

after(async () => {
  for (const app of running) await app.kill();
});

export async function healthy() {
  try {
    return (await fetch(`${BASE_URL}/healthz`, { signal: AbortSignal.timeout(1000) })).status;
  } catch {
    return 0;
  }
}

/** Starts `autodoctor serve` with the given fault points armed; waits for /healthz. */
export async function startApp({ faults = '', databaseUrl = DB, env = {} } = {}) {
  assert.ok(process.env.SERVER_BIN, 'SERVER_BIN is not set (run the tests through scripts/test)');
  assert.equal(await healthy(), 0, `something is already serving ${BASE_URL}`);
  const child = spawn(process.env.SERVER_BIN, ['serve'], {
    env: serverEnv({ DATABASE_URL: databaseUrl, AUTODOCTOR_FAULTS: faults, ...env }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const waiters = [];
  child.stderr.on('data', (d) => {
    stderr += d;
    for (const w of waiters) if (stderr.includes(`FAULT POINT ${w.name}`)) w.resolve();
  });
  const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  const app = {
    child,
    /** Resolves when the server has stopped at the named fault point. */
    reachedFault(name, ms = 30000) {
      return new Promise((resolve, reject) => {
        if (stderr.includes(`FAULT POINT ${name}`)) return resolve();
        waiters.push({ name, resolve });
        setTimeout(() => reject(new Error(`fault point ${name} not reached in ${ms} ms; stderr:\n${stderr.slice(-2000)}`)), ms);
      });
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      running.delete(app);
    },
    /** Sends SIGTERM; resolves with how the process ended ({ code, signal }) and its stderr. */
    async terminate() {
      child.kill('SIGTERM');
      const how = await exited;
      running.delete(app);
      return { ...how, stderr };
    },
    stderr: () => stderr,
  };
  running.add(app);
  for (let i = 0; i < 150; i++) {
    if ((await healthy()) === 200) return app;
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await app.kill();
  throw new Error(`server did not come up within 30 s:\n${stderr}`);
}

/** A client with a cookie jar that calls server functions as the hydrated app does. */
export class Client {
  cookie = null;

  async request(path, { body, contentType = 'application/x-www-form-urlencoded', signal } = {}) {
    const headers = { origin: BASE_URL, 'sec-fetch-site': 'same-origin', 'content-type': contentType };
    if (this.cookie) headers.cookie = this.cookie;
    const res = await fetch(`${BASE_URL}${path}`, { method: 'POST', headers, body, redirect: 'manual', signal });
    const set = res.headers.getSetCookie().find((c) => c.startsWith('autodoctor_session='));
    if (set) this.cookie = set.split(';')[0];
    return res;
  }

  async call(path, fields = {}, options = {}) {
    const res = await this.request(path, { ...options, body: new URLSearchParams(fields).toString() });
    const text = await res.text();
    return { status: res.status, text, json: () => JSON.parse(text) };
  }

  async ok(path, fields = {}) {
    const r = await this.call(path, fields);
    assert.equal(r.status, 200, `${path}: ${r.status} ${r.text}`);
    return r.json();
  }

  /** Sends a call that the server will not answer (it stops at a fault point). */
  hanging(path, fields = {}) {
    this.call(path, fields).catch(() => {});
  }

  async logIn(email) {
    await this.ok('/api/public/auth/log-in', { email, password: 'demo-password' });
  }
}

export async function eventually(what, probe, ms = 20000) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    last = await probe();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

export async function assertConsistent() {
  const out = await runServerCommand(['check'], { DATABASE_URL: DB });
  assert.match(out, /consistent/);
}

