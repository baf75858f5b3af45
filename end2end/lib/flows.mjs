// User journeys shared by several end-to-end tests.
import { openPage, screenshot, visit } from './harness.mjs';

export async function logIn(page, email, password = 'demo-password') {
  await visit(page, '/login');
  await page.fill('#field-email', email);
  await page.fill('#field-password', password);
  await page.click('#login-form button[type=submit]');
  await page.waitForURL((url) => !url.pathname.startsWith('/login'));
  await page.waitForSelector('body[data-hydrated="true"]');
}

/**
 * Books and pays in the sandbox. `workshopId` and `routing` pick who helps
 * (no workshop: any available mechanic). Returns the order page's URL.
 */
export async function bookAndPay(page, { plan = 'video15', workshopId = null, routing = null, problem }) {
  await visit(page, workshopId ? `/book?workshop=${workshopId}` : '/book');
  await page.check(`#plan-${plan}`);
  await page.fill('#field-vehicle_make', 'Subaru');
  await page.fill('#field-vehicle_model', 'Outback');
  await page.fill('#field-vehicle_year', '2017');
  await page.fill('#field-problem_description', problem);
  if (routing) await page.check(`#routing-${routing}`);
  await page.click('#pay-button');
  await page.waitForURL(/\/sandbox\/checkout\//);
  await page.fill('#card_number', '4242 4242 4242 4242');
  await page.click('#sandbox-pay');
  await page.waitForURL(/\/checkout\/return\?order=/);
  try {
    await page.locator('#order-state', { hasText: 'Waiting for a mechanic' }).waitFor();
  } catch (e) {
    await screenshot(page, 'failure-book-and-pay');
    throw new Error(`order page never showed "Waiting for a mechanic": ${await page.locator('main').innerText()}`);
  }
  return page.url();
}

/** On a mechanic's open dashboard: waits for the offer about `problem` and accepts it. */
export async function acceptOffer(mechanic, problem) {
  const offer = mechanic.locator('#offers li.offer', { hasText: problem });
  await offer.waitFor({ timeout: 20000 });
  await offer.locator('button', { hasText: 'Accept' }).click();
  await mechanic.waitForURL(/\/session\//);
  await mechanic.waitForSelector('body[data-hydrated="true"]');
}

/** On a mechanic's dashboard: goes online (or offline) unless already so. */
export async function setOnline(mechanic, online) {
  await visit(mechanic, '/mechanic');
  const want = online ? 'Online' : 'Offline';
  if ((await mechanic.locator('#online-state').innerText()) !== want) {
    await mechanic.click('#online-form button[type=submit]');
    await mechanic.locator('#online-state', { hasText: want }).waitFor();
  }
}

/**
 * In the session room, the mechanic writes the diagnosis report and saves it
 * (ending a session needs one).
 */
export async function writeReport(
  mechanic,
  {
    summary = 'Worn front brake pads; the discs are fine.',
    safe = 'with_care',
    repairs = [{ description: 'Replace the front brake pads', urgency: 'soon', min: '120', max: '180.50' }],
  } = {},
) {
  await mechanic.locator('#report-form').waitFor();
  await mechanic.fill('#report-summary', summary);
  await mechanic.check(`#safe-${safe}`);
  for (const [i, r] of repairs.entries()) {
    await mechanic.fill(`#repair-${i}-description`, r.description);
    await mechanic.selectOption(`#repair-${i}-urgency`, r.urgency);
    await mechanic.fill(`#repair-${i}-cost_min`, r.min);
    await mechanic.fill(`#repair-${i}-cost_max`, r.max ?? '');
  }
  await mechanic.click('#report-form button[type=submit]');
  await mechanic.locator('#report-saved').waitFor();
}

/** The fields of a complete report, for tests that call the server functions directly. */
export function reportFields(sessionId) {
  return {
    session_id: sessionId,
    summary: 'Worn front brake pads; the discs are fine.',
    safe_to_drive: 'with_care',
    'repairs[0][description]': 'Replace the front brake pads',
    'repairs[0][urgency]': 'soon',
    'repairs[0][cost_min]': '120',
    'repairs[0][cost_max]': '180.50',
  };
}

/**
 * The newest link to `pathPrefix` emailed to `email`, as read in the admin
 * mailbox (on a page of its own, closed afterwards). Returns its path.
 */
export async function emailedLink(browser, email, pathPrefix) {
  const admin = await openPage(browser);
  await logIn(admin, 'admin@autodoctor.test');
  await visit(admin, '/admin/mailbox');
  const link = admin.locator(`article.mail[data-to="${email}"] a.mail-link[href*="${pathPrefix}"]`).first();
  await link.waitFor();
  const href = await link.getAttribute('href');
  await admin.context().close();
  return new URL(href).pathname;
}

/**
 * After a sign-up form was sent: the "check your email" page, then the link
 * from the email, and its "Create my account" button.
 */
export async function confirmSignUp(browser, page, email) {
  await page.waitForURL('**/check-email');
  await page.locator('#check-email h1', { hasText: 'Check your email' }).waitFor();
  const path = await emailedLink(browser, email, '/confirm/');
  await visit(page, path);
  await page.locator('#confirm-email', { hasText: email }).waitFor();
  await page.click('#confirm-form button[type=submit]');
}
