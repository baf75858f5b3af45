// Photos in the session room: the customer attaches a photo with a caption
// (a plain form post); it appears on the mechanic's open room without a
// reload, its thumbnail loads, and the full image opens (for the admin too,
// and for nobody else).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { BASE_URL, launchBrowser, openPage, screenshot, startServer, visit } from '../lib/harness.mjs';
import { acceptOffer, bookAndPay, logIn, setOnline, writeReport } from '../lib/flows.mjs';

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

function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return ~c >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, 'ascii'), data])), 8 + data.length);
  return out;
}

/** A `w` × `h` RGB PNG (a colour gradient), as a phone's screenshot would be. */
function png(w, h) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * (w * 3 + 1) + 1 + x * 3;
      raw[i] = (x * 255) / w;
      raw[i + 1] = (y * 255) / h;
      raw[i + 2] = 160;
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

async function harborId() {
  const res = await fetch(`${BASE_URL}/api/workshops/directory?q=Harbor`);
  const body = await res.json();
  return body.workshops.find((w) => w.workshop_name === 'Harbor Motors').workshop_id;
}

test('a photo sent by the customer appears live for the mechanic, and the full image opens', async () => {
  const problem = `Photo test: a warning light on the dashboard ${Date.now()}`;
  const mechanic = await openPage(browser);
  await logIn(mechanic, 'sam@harbor.test');
  await setOnline(mechanic, true);
  await mechanic.locator('#offers-card').waitFor();

  const customer = await openPage(browser);
  await logIn(customer, 'customer@autodoctor.test');
  await bookAndPay(customer, { workshopId: await harborId(), routing: 'workshop_only', problem });
  await acceptOffer(mechanic, problem);
  const roomUrl = new URL(mechanic.url());
  await customer.locator('#open-room').click({ timeout: 20000 });
  await customer.waitForURL(/\/session\//);
  await customer.waitForSelector('body[data-hydrated="true"]');

  // The mechanic's room stays open; a marker shows it is never reloaded.
  await mechanic.evaluate(() => {
    window.__photoTestMarker = 'same page';
  });
  assert.equal(await mechanic.locator('#chat-log a.chat-photo').count(), 0);

  // The customer attaches a photo with a caption, as a plain form (labelled inputs).
  assert.equal(await customer.getByLabel('Attach a photo').count(), 1);
  await customer.setInputFiles('#photo-input', { name: 'dashboard.png', mimeType: 'image/png', buffer: png(600, 400) });
  await customer.getByLabel('Caption (optional)').fill('The orange light, since Monday');
  await customer.click('#photo-form button[type=submit]');
  await customer.waitForURL((url) => url.pathname === roomUrl.pathname);
  await customer.waitForSelector('body[data-hydrated="true"]');
  await customer.locator('#chat-log a.chat-photo img').waitFor();

  // Live on the mechanic's side: the thumbnail, loaded, with its alt text.
  const thumb = mechanic.locator('#chat-log a.chat-photo img');
  await thumb.waitFor({ timeout: 20000 });
  assert.equal(await mechanic.evaluate(() => window.__photoTestMarker), 'same page', 'no reload');
  assert.equal(await thumb.getAttribute('alt'), 'Photo from Casey Customer: The orange light, since Monday');
  await mechanic.waitForFunction(() => document.querySelector('#chat-log a.chat-photo img')?.complete);
  const thumbSize = await thumb.evaluate((img) => [img.naturalWidth, img.naturalHeight]);
  assert.deepEqual(thumbSize, [320, 213], 'the thumbnail, scaled from 600 × 400');
  await mechanic.locator('#session-status', { hasText: 'In session' }).waitFor();
  await screenshot(mechanic, 'session-photo');

  // The full image opens.
  const href = await mechanic.locator('#chat-log a.chat-photo').getAttribute('href');
  assert.match(href, /^\/api\/session\/[0-9a-f-]+\/photos\/[0-9a-f-]+$/);
  await mechanic.locator('#chat-log a.chat-photo').click();
  await mechanic.waitForURL((url) => url.pathname === href);
  const full = await mechanic.evaluate(() => ({
    type: document.contentType,
    size: [document.images[0]?.naturalWidth, document.images[0]?.naturalHeight],
  }));
  assert.deepEqual(full, { type: 'image/jpeg', size: [600, 400] });

  // The admin can open it too; another mechanic is told there is no such photo.
  const admin = await openPage(browser);
  await logIn(admin, 'admin@autodoctor.test');
  const asAdmin = await admin.goto(href);
  assert.equal(asAdmin.status(), 200);
  assert.equal(asAdmin.headers()['content-type'], 'image/jpeg');
  const stranger = await openPage(browser, { expectedStatuses: [404] });
  await logIn(stranger, 'ivy@independent.test');
  const asStranger = await stranger.goto(href);
  assert.equal(asStranger.status(), 404);

  // The mechanic goes back and ends the session (Sam is free for other tests).
  await visit(mechanic, roomUrl.pathname);
  await writeReport(mechanic);
  await mechanic.click('#end-form button[type=submit]');
  await mechanic.locator('#session-status', { hasText: 'Completed' }).waitFor();
  await customer.locator('#photo-form').waitFor({ state: 'detached', timeout: 20000 });

  for (const page of [mechanic, customer, admin, stranger]) {
    page.assertNoProblems();
    await page.context().close();
  }
});
