// Accounts: sign up, log out, log in, the account page, and errors shown in place.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, openPage, screenshot, startServer, uniqueEmail, visit, BASE_URL } from '../lib/harness.mjs';
import { confirmSignUp } from '../lib/flows.mjs';

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

test('a customer signs up, logs out, logs in and sees the account page', async () => {
  const page = await openPage(browser);
  const email = uniqueEmail('signup');
  await visit(page, '/signup');
  await page.fill('#field-name', 'Erin Example');
  await page.fill('#field-email', email);
  await page.fill('#field-password', 'a long password');
  await page.click('#signup-form button[type=submit]');
  await confirmSignUp(browser, page, email);
  await page.waitForURL('**/sessions');
  await page.locator('#signed-in-as', { hasText: 'Erin Example' }).waitFor();
  await page.locator('h1', { hasText: 'My sessions' }).waitFor();

  await page.click('#logout-button');
  await page.waitForURL(`${BASE_URL}/`);
  await page.locator('a[href="/login"]').first().waitFor();

  await visit(page, '/login');
  await page.fill('#field-email', email);
  await page.fill('#field-password', 'a long password');
  await page.click('#login-form button[type=submit]');
  await page.waitForURL('**/sessions');
  await visit(page, '/account');
  await page.locator('h1', { hasText: 'Your account' }).waitFor();
  assert.match(await page.locator('.page-header p').innerText(), new RegExp(email.replace(/[.]/g, '\\.')));

  // Change the name on the account page; it shows as saved.
  await page.waitForSelector('body[data-hydrated="true"]');
  await page.fill('#name-form #field-name', 'Erin E. Example');
  await page.click('#name-form button[type=submit]');
  await page.locator('#name-form .notice.success').waitFor();
  await screenshot(page, 'account');
  page.assertNoProblems();
  await page.context().close();
});

test('a wrong password shows a clear error next to the field', async () => {
  const page = await openPage(browser, { expectedStatuses: [400] });
  await visit(page, '/login');
  await page.fill('#field-email', 'customer@autodoctor.test');
  await page.fill('#field-password', 'not the password');
  await page.click('#login-form button[type=submit]');
  const error = page.locator('#field-password-error');
  await error.filter({ hasText: 'The email or password is not right.' }).waitFor();
  assert.equal(await page.locator('#field-password').getAttribute('aria-invalid'), 'true');
  assert.match(page.url(), /\/login$/);
  await screenshot(page, 'login-error');
  page.assertNoProblems();
  await page.context().close();
});

test('logging in works without JavaScript, errors included', async () => {
  const context = await browser.newContext({ baseURL: BASE_URL, javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/login?next=/account');
  await page.fill('#field-email', 'customer@autodoctor.test');
  await page.fill('#field-password', 'wrong');
  await page.click('#login-form button[type=submit]');
  await page.locator('#field-password-error', { hasText: 'not right' }).waitFor();

  await page.fill('#field-email', 'customer@autodoctor.test');
  await page.fill('#field-password', 'demo-password');
  await page.click('#login-form button[type=submit]');
  await page.waitForURL('**/account');
  // (the log-in form carried next=/account)
  await page.locator('h1', { hasText: 'Your account' }).waitFor();
  await context.close();
});

test('the account page sends visitors to log in first', async () => {
  const page = await openPage(browser);
  await page.goto('/account');
  await page.waitForURL(/\/login\?next=(%2F|\/)account$/);
  await page.locator('h1', { hasText: 'Log in' }).waitFor();
  await page.context().close();
});
