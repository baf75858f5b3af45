// Compression and caching, over the real HTTP stack: every kind of answer is
// compressed when the client asks for br or gzip (and not when it does not), the
// precompressed static files decode to the very bytes of the originals, a live
// stream's events are not held back by the compression layer, and each kind of
// answer says what may be cached.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import zlib from 'node:zlib';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { APP_ROOT, BASE_URL, startServer } from '../lib/harness.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

/** A raw request (Node's fetch would decode the body itself): status, headers, raw body bytes. */
function raw(path, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${BASE_URL}${path}`, { method, headers: { origin: BASE_URL, ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

function decode(res) {
  switch (res.headers['content-encoding']) {
    case 'br':
      return zlib.brotliDecompressSync(res.body);
    case 'gzip':
      return zlib.gunzipSync(res.body);
    case undefined:
      return res.body;
    default:
      throw new Error(`unexpected content-encoding ${res.headers['content-encoding']}`);
  }
}

async function logIn(email) {
  const res = await raw('/api/public/auth/log-in', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ email, password: 'demo-password' }).toString(),
  });
  assert.equal(res.status, 200, res.body.toString());
  return res.headers['set-cookie'].find((c) => c.startsWith('autodoctor_session=')).split(';')[0];
}

const pkgDir = join(APP_ROOT, 'target', 'site', 'pkg');
const pkgFile = (ext) => {
  const name = readdirSync(pkgDir).find((f) => f.endsWith(ext) && !f.endsWith('.d.ts'));
  assert.ok(name, `a ${ext} file in ${pkgDir}`);
  return name;
};

const kinds = () => [
  { kind: 'HTML page', path: '/workshops', type: /text\/html/ },
  { kind: 'JSON', path: '/api/workshops/directory', type: /application\/json/ },
  { kind: 'server function', path: '/api/public/plans', method: 'POST', type: /json/ },
  { kind: 'JS', path: `/pkg/${pkgFile('.js')}`, type: /javascript/ },
  { kind: 'CSS', path: `/pkg/${pkgFile('.css')}`, type: /text\/css/ },
  { kind: 'wasm', path: `/pkg/${pkgFile('.wasm')}`, type: /application\/wasm/ },
];

test('every kind of answer is compressed with br or gzip when asked, and plain when not', async () => {
  for (const k of kinds()) {
    const plain = await raw(k.path, { method: k.method });
    assert.equal(plain.status, 200, `${k.kind}: ${plain.body.toString().slice(0, 200)}`);
    assert.match(plain.headers['content-type'], k.type, k.kind);
    assert.equal(plain.headers['content-encoding'], undefined, `${k.kind} without Accept-Encoding is not compressed`);
    for (const enc of ['br', 'gzip']) {
      const res = await raw(k.path, { method: k.method, headers: { 'accept-encoding': enc } });
      assert.equal(res.status, 200, k.kind);
      assert.equal(res.headers['content-encoding'], enc, `${k.kind} asked for ${enc}`);
      assert.match(res.headers.vary ?? '', /accept-encoding/i, `${k.kind} varies by Accept-Encoding`);
      assert.ok(res.body.length < plain.body.length, `${k.kind} in ${enc} is smaller (${res.body.length} < ${plain.body.length})`);
      const decoded = decode(res);
      if (k.kind === 'HTML page') {
        // Each page has a fresh CSP nonce: compare the page without it.
        const strip = (b) => b.toString().replace(/nonce="[^"]*"/g, '').replace(/'nonce-[^']*'/g, '');
        assert.equal(strip(decoded), strip(plain.body), `${k.kind} in ${enc} decodes to the page`);
      } else {
        assert.ok(decoded.equals(plain.body), `${k.kind} in ${enc} decodes to the same bytes`);
      }
    }
    // With both offered, br wins.
    const both = await raw(k.path, { method: k.method, headers: { 'accept-encoding': 'gzip, deflate, br' } });
    assert.equal(both.headers['content-encoding'], 'br', k.kind);
  }
});

test('the static files are served precompressed: the .br and .gz next to each decode to the original', async () => {
  const files = readdirSync(pkgDir).filter((f) => /\.(js|css|wasm)$/.test(f));
  assert.ok(files.length >= 3, `js, css and wasm in ${pkgDir}: ${files}`);
  for (const f of files) {
    const original = readFileSync(join(pkgDir, f));
    const br = readFileSync(join(pkgDir, `${f}.br`));
    const gz = readFileSync(join(pkgDir, `${f}.gz`));
    assert.ok(zlib.brotliDecompressSync(br).equals(original), `${f}.br decodes to ${f}`);
    assert.ok(zlib.gunzipSync(gz).equals(original), `${f}.gz decodes to ${f}`);
    // The server sends those very bytes (not a compression of its own), with the immutable caching.
    const res = await raw(`/pkg/${f}`, { headers: { 'accept-encoding': 'br' } });
    assert.equal(res.headers['content-encoding'], 'br');
    assert.ok(res.body.equals(br), `/pkg/${f} in br is the precompressed file`);
    assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
  }
});

test('a live stream through the compression layer delivers its first event at once', async () => {
  const cookie = await logIn('mia@northside.test');
  const started = Date.now();
  const { headers, firstEventMs } = await new Promise((resolve, reject) => {
    const req = http.request(`${BASE_URL}/api/live/offers`, {
      headers: { cookie, accept: 'text/event-stream', 'accept-encoding': 'br, gzip' },
    }, (res) => {
      let text = '';
      res.on('data', (c) => {
        text += c;
        if (/\nevent: offers\ndata: /.test(`\n${text}`) && text.includes('\n\n')) {
          resolve({ headers: res.headers, firstEventMs: Date.now() - started });
          req.destroy();
        }
      });
      res.on('error', () => {});
    });
    req.on('error', (e) => (e.code === 'ECONNRESET' ? null : reject(e)));
    req.setTimeout(5000, () => reject(new Error('no event within 5 s: the stream is buffered')));
    req.end();
  });
  assert.match(headers['content-type'], /text\/event-stream/);
  assert.equal(headers['content-encoding'], undefined, 'event streams are not compressed (each event goes out at once)');
  assert.ok(firstEventMs < 100, `first event after ${firstEventMs} ms`);
});

test('each kind of answer says what may be cached', async () => {
  const anon = await raw('/workshops');
  assert.equal(anon.headers['cache-control'], 'private, max-age=60', 'the public directory, briefly, in the browser only');
  assert.match(anon.headers.vary ?? '', /cookie/i, 'and not for someone who logs in');
  const json = await raw('/api/workshops/directory');
  assert.equal(json.headers['cache-control'], 'public, max-age=60');
  const login = await raw('/login');
  assert.equal(login.headers['cache-control'], 'no-cache');
  const cookie = await logIn('customer@autodoctor.test');
  for (const path of ['/workshops', '/sessions', '/book']) {
    const res = await raw(path, { headers: { cookie } });
    assert.equal(res.status, 200, path);
    assert.equal(res.headers['cache-control'], 'private, no-store', `${path} logged in stays private`);
  }
  const fn = await raw('/api/public/plans', { method: 'POST', headers: { cookie } });
  assert.equal(fn.headers['cache-control'], 'no-store', 'server functions are never cached');
  const icon = await raw('/favicon.ico');
  assert.equal(icon.headers['cache-control'], 'public, max-age=3600');
});
