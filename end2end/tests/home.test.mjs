// The app shell: server rendering, hydration, a server function from the browser,
// the 404 page, security headers and the health check.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, launchBrowser, openPage, screenshot, startServer, visit, waitForHydration } from '../lib/harness.mjs';

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

test('home page is rendered on the server before any WebAssembly runs', async () => {
  const res = await fetch(`${BASE_URL}/`);
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /A mechanic looks at your car problem/);
  assert.match(html, /href="\/workshops"/);
  assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.ok(res.headers.get('x-request-id'), 'every response carries a request id');
});

test('the plans and prices open and close with a click, and the home page downloads no WebAssembly', async () => {
  const page = await openPage(browser);
  const scripts = [];
  page.on('request', (req) => {
    if (/\.(wasm|js)(\?|$)/.test(req.url())) scripts.push(req.url());
  });
  await visit(page, '/');
  await page.locator('#plans-list [data-plan="video15"]').waitFor({ state: 'hidden', timeout: 5000 });
  await page.locator('#plans-toggle').click();
  await page.locator('#plans-list [data-plan="video15"]').waitFor({ state: 'visible', timeout: 5000 });
  const text = await page.locator('#plans-list').innerText();
  assert.match(text, /Video diagnosis/);
  assert.match(text, /\$29\.00/);
  await page.locator('#plans-toggle').click();
  await page.locator('#plans-list').waitFor({ state: 'hidden', timeout: 5000 });
  // A page without interactive parts (islands) loads no WebAssembly and no app script.
  assert.deepEqual(scripts.filter((u) => /\/pkg\//.test(u)), []);
  await screenshot(page, 'home');
  page.assertNoProblems();
  await page.context().close();
});

test('an unknown address shows the 404 page with status 404', async () => {
  const page = await openPage(browser, { expectedStatuses: [404] });
  const res = await page.goto('/no/such/page');
  assert.equal(res.status(), 404);
  await page.locator('h1', { hasText: 'Page not found' }).waitFor();
  await waitForHydration(page);
  page.assertNoProblems();
  await page.context().close();
});

test('health check reports the database', async () => {
  const res = await fetch(`${BASE_URL}/healthz`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: 'ok', database: 'ok' });
});

test('pages on a phone-sized screen have no horizontal scroll, once styled and hydrated', async () => {
  const page = await openPage(browser);
  await page.setViewportSize({ width: 375, height: 740 });
  for (const path of ['/', '/workshops', '/login', '/signup']) {
    await visit(page, path);
    // The stylesheet is applied (the header is laid out as a flex row by it).
    assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector('.header-row')).display), 'flex', path);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${path} is ${overflow}px wider than the screen`);
  }
  page.assertNoProblems();
  await page.context().close();
});
