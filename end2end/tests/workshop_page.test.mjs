// The public workshop page and the directory's live counts: a customer rates a
// session with Northside, then opens the workshop from the directory, reads the
// review (first name only) and books from its page; an open directory page
// shows a mechanic going offline without a reload; the owner uploads a logo
// and reads the analytics over time (screenshots for the README).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, openPage, screenshot, startServer, visit } from '../lib/harness.mjs';
import { acceptOffer, bookAndPay, logIn, setOnline, writeReport } from '../lib/flows.mjs';

const NORTHSIDE = '00000000-0000-0000-0000-00000a0a0001';
const HARBOR = '00000000-0000-0000-0000-00000a0a0002';
// A 1x1 PNG: the server re-encodes it as the logo.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

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

test('a customer opens a workshop from the directory, reads its reviews and books from its page', async () => {
  // The owner gives Northside a logo (the plain form on the dashboard).
  const owner = await openPage(browser);
  await logIn(owner, 'owner@northside.test');
  await visit(owner, '/workshop');
  await owner.setInputFiles('#logo-file', { name: 'logo.png', mimeType: 'image/png', buffer: PNG });
  await owner.click('#logo-form button[type=submit]');
  await owner.waitForURL(/\/workshop/);
  await owner.locator('#current-logo').waitFor();
  // What the description is now (another test file may have edited it).
  await visit(owner, '/workshop/profile');
  const description = (await owner.locator('#field-description').inputValue()).split('\n')[0].trim();

  // A session with Mia of Northside, rated with a comment.
  const problem = 'Idle hunts up and down after the battery was changed.';
  const mechanic = await openPage(browser);
  await logIn(mechanic, 'mia@northside.test');
  await setOnline(mechanic, true);
  await mechanic.locator('#offers-card').waitFor();
  const customer = await openPage(browser);
  await logIn(customer, 'customer@autodoctor.test');
  // Its 4-star count before this rating (other test files rate sessions too).
  await visit(customer, `/workshops/${NORTHSIDE}`);
  const foursBefore = Number(await customer.locator('#rating-distribution tr[data-stars="4"] .dist-count').innerText());
  await bookAndPay(customer, { workshopId: NORTHSIDE, routing: 'workshop_only', problem });
  await acceptOffer(mechanic, problem);
  await customer.locator('#open-room').waitFor({ timeout: 20000 });
  await customer.locator('#open-room').click();
  await customer.waitForURL(/\/session\//);
  await customer.waitForSelector('body[data-hydrated="true"]');
  await writeReport(mechanic, { summary: 'The idle control valve needs relearning.' });
  await mechanic.click('#end-form button[type=submit]');
  await mechanic.locator('#session-status', { hasText: 'Completed' }).waitFor();
  await customer.locator('#rate-form').waitFor({ timeout: 20000 });
  await customer.check('#rating-4');
  await customer.fill('#rating-comment', 'Mia talked me through the idle relearn.');
  await customer.click('#rate-form button[type=submit]');
  await customer.locator('#rated', { hasText: 'Rated 4 of 5' }).waitFor({ timeout: 20000 });

  // From the directory to the workshop's page.
  await visit(customer, '/workshops');
  const card = customer.locator(`article[data-workshop-id="${NORTHSIDE}"]`);
  assert.ok(await card.locator('img.workshop-logo').count(), 'the card shows the logo');
  await card.locator('a.workshop-link').click();
  await customer.waitForURL(new RegExp(`/workshops/${NORTHSIDE}$`));
  assert.equal(await customer.locator('#workshop-name').innerText(), 'Northside Auto Clinic');
  assert.match(await customer.title(), /Northside Auto Clinic in Portland/);
  assert.ok(description.length > 0, 'the workshop has a description');
  assert.ok((await customer.locator('#workshop-description').innerText()).includes(description), 'the page shows the description the owner keeps');
  assert.match(await customer.locator('#workshop-mechanics').innerText(), /Mia Mechanic/);
  const review = customer.locator('#review-list li.review', { hasText: 'idle relearn' });
  await review.waitFor();
  assert.equal(await review.locator('.review-author').innerText(), 'Casey', 'first name only');
  assert.equal(await review.locator('.review-stars').getAttribute('aria-label'), '4 out of 5');
  assert.doesNotMatch(await customer.locator('#reviews').innerText(), /Casey Customer/);
  assert.equal(await customer.locator('#rating-distribution tr[data-stars="4"] .dist-count').innerText(), String(foursBefore + 1));
  assert.equal(
    await customer.locator('link[rel="canonical"]').getAttribute('href'),
    new URL(`/workshops/${NORTHSIDE}`, customer.url()).href,
  );
  assert.equal(await customer.locator('meta[property="og:title"]').getAttribute('content'), 'Northside Auto Clinic in Portland');
  assert.equal(await customer.locator('leptos-island').count(), 0, 'no WebAssembly on this page');
  await screenshot(customer, 'workshop-page');

  // Booking from the page preselects the workshop.
  await customer.click('#book-with-workshop');
  await customer.waitForURL(new RegExp(`/book\\?workshop=${NORTHSIDE}`));
  await customer.waitForSelector('body[data-hydrated="true"]');
  await customer.locator('#chosen-workshop', { hasText: 'Northside Auto Clinic' }).waitFor();

  // The owner's analytics over time count the session.
  await visit(owner, '/workshop');
  await owner.locator('#workshop-trends').waitFor();
  // (The week table sits in a closed <details>: its text is read from the DOM.)
  const thisWeek = owner.locator('#trends-table tbody tr').last();
  assert.ok(Number(await thisWeek.locator('td').first().textContent()) >= 1, 'this week has the session');
  await owner.locator('#workshop-trends').scrollIntoViewIfNeeded();
  await owner.locator('#workshop-trends details summary').click();
  await screenshot(owner, 'workshop-analytics');
  const csv = await owner.request.get('/workshop/analytics.csv');
  assert.equal(csv.status(), 200);
  const lines = (await csv.text()).trim().split('\n');
  assert.match(lines[0], /^scope,week_start,mechanic,sessions,/);
  assert.equal(lines.filter((l) => l.startsWith('week,')).length, 12);
  assert.ok(lines.some((l) => l.startsWith('mechanic,') && l.includes('Mia Mechanic')));

  for (const p of [owner, mechanic, customer]) {
    p.assertNoProblems();
    await p.context().close();
  }
});

test('an online count on an open directory page changes when a mechanic goes offline', async () => {
  const mechanic = await openPage(browser);
  await logIn(mechanic, 'sam@harbor.test');
  await setOnline(mechanic, true);

  const visitor = await openPage(browser);
  await visit(visitor, '/workshops');
  await visitor.locator('html[data-directory-live="on"]').waitFor({ timeout: 20000 });
  const online = visitor.locator(`article[data-workshop-id="${HARBOR}"] .stat-online`);
  const before = await online.innerText();
  const [up, total] = before.split(' / ').map(Number);
  assert.ok(up >= 1, `Sam is online (${before})`);
  const anyBefore = Number((await visitor.locator('#any-available-count').innerText()).split(' ')[0]);

  await setOnline(mechanic, false);
  // No reload: the card and the "Any available" badge follow.
  await visitor.locator(`article[data-workshop-id="${HARBOR}"] .stat-online`, { hasText: `${up - 1} / ${total}` }).waitFor({ timeout: 20000 });
  await visitor.locator('#any-available-count', { hasText: `${anyBefore - 1} online now` }).waitFor({ timeout: 20000 });

  await setOnline(mechanic, true);
  await visitor.locator(`article[data-workshop-id="${HARBOR}"] .stat-online`, { hasText: before }).waitFor({ timeout: 20000 });

  for (const p of [mechanic, visitor]) {
    p.assertNoProblems();
    await p.context().close();
  }
});
