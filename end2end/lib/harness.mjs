// Shared by the end-to-end tests: starts the real server on a real database,
// launches Debian's Chromium through playwright-core, and watches pages for errors.
//
// scripts/test prepares the environment:
//   DATABASE_URL  a fresh database (migrated and seeded by the server's `seed` command)
//   SERVER_BIN    the built server binary
//   APP_ROOT      the project root (for target/site)
//   E2E_PORT      the port to serve on
// With BASE_URL set instead, the tests run against that server and start nothing.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

const here = dirname(fileURLToPath(import.meta.url));
export const APP_ROOT = resolve(process.env.APP_ROOT ?? join(here, '..', '..'));
const PORT = Number(process.env.E2E_PORT ?? 3107);
export const BASE_URL = process.env.BASE_URL ?? `http://127.0.0.1:${PORT}`;
export const RESULTS_DIR = join(here, '..', 'test-results');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

// Flags from the toolchain notes: no sandbox as root, and no background network
// traffic (this machine's network is closed; Chromium would flood it with retries).
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export function serverEnv(extra = {}) {
  return {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: String(PORT),
    PUBLIC_URL: BASE_URL,
    LEPTOS_SITE_ROOT: process.env.LEPTOS_SITE_ROOT ?? join(APP_ROOT, 'target', 'site'),
    RUST_LOG: process.env.RUST_LOG ?? 'warn',
    ...extra,
  };
}

async function reachable(url) {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return r.ok;
  } catch {
    return false;
  }
}

/** Runs `autodoctor <args>` to completion and returns its standard output. */
export async function runServerCommand(args, extraEnv = {}) {
  const bin = process.env.SERVER_BIN;
  assert.ok(bin, 'SERVER_BIN is not set (run the tests through scripts/test)');
  return await new Promise((resolvePromise, reject) => {
    const child = spawn(bin, args, { cwd: APP_ROOT, env: serverEnv(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolvePromise(out) : reject(new Error(`autodoctor ${args.join(' ')} exited ${code}: ${err}`))));
  });
}

/**
 * Starts the server (unless BASE_URL points at one already) and waits until
 * /healthz answers. Returns an object with stop().
 */
export async function startServer(extraEnv = {}) {
  if (process.env.BASE_URL) return { stop: async () => {}, child: null };
  const bin = process.env.SERVER_BIN;
  assert.ok(bin, 'SERVER_BIN is not set (run the tests through scripts/test)');
  if (await reachable(`${BASE_URL}/healthz`)) {
    throw new Error(`something is already serving ${BASE_URL}; stop it or set E2E_PORT`);
  }
  const child = spawn(bin, ['serve'], { cwd: APP_ROOT, env: serverEnv(extraEnv), stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise((r) => child.on('exit', r));
  for (let i = 0; i < 150; i++) {
    if (await reachable(`${BASE_URL}/healthz`)) {
      return {
        child,
        async stop() {
          if (child.exitCode === null) child.kill('SIGTERM');
          await Promise.race([exited, new Promise((r) => setTimeout(r, 10000))]);
          if (child.exitCode === null) child.kill('SIGKILL');
        },
      };
    }
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error('server did not come up within 30 s');
}

// A fake camera (a moving test pattern) and microphone (a beep), granted without asking.
const FAKE_MEDIA_ARGS = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];

/** Launches headless Debian Chromium with a throwaway profile (`media`: with a fake camera and microphone). */
export async function launchBrowser({ media = false } = {}) {
  const args = media ? [...CHROMIUM_ARGS, ...FAKE_MEDIA_ARGS] : CHROMIUM_ARGS;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args });
  return browser;
}

/**
 * A new page in its own context (own cookies) that records every browser-side
 * problem: uncaught exceptions, console errors (CSP violations among them) and
 * server errors (5xx). `expectedStatuses` lists 4xx statuses a test provokes on purpose.
 */
export async function openPage(browser, { expectedStatuses = [] } = {}) {
  const context = await browser.newContext({ baseURL: BASE_URL, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  // The first page of a run compiles the WebAssembly; on a busy machine that is slow.
  page.setDefaultTimeout(45000);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    // Failed fetches are reported through 'response' below with their status.
    if (text.startsWith('Failed to load resource')) return;
    problems.push(`console: ${text}`);
  });
  page.on('response', (r) => {
    const s = r.status();
    if (s >= 500 || (s >= 400 && !expectedStatuses.includes(s))) problems.push(`HTTP ${s} ${r.url()}`);
  });
  page.problems = problems;
  page.assertNoProblems = () => assert.deepEqual(problems, [], 'the browser reported problems');
  return page;
}

/** Waits until the WebAssembly has hydrated the server-rendered page. */
export async function waitForHydration(page) {
  await page.locator('body[data-hydrated="true"]').waitFor({ state: 'attached', timeout: 60000 });
}

/** Navigates and waits for hydration. */
export async function visit(page, path) {
  const res = await page.goto(path, { waitUntil: 'load' });
  await waitForHydration(page);
  return res;
}

export async function screenshot(page, name) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** A unique email address for a test run, so tests never collide. */
export function uniqueEmail(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}@e2e.test`;
}

export function tempDir() {
  const d = mkdtempSync(join(tmpdir(), 'autodoctor-e2e-'));
  return { path: d, remove: () => rmSync(d, { recursive: true, force: true }) };
}
