// Writes a brotli (.br) and a gzip (.gz) copy next to each JS, CSS and wasm file
// of a built site's pkg folder, for the server to send as they are. Release
// builds get theirs from `cargo leptos build --precompress`; this does the same
// for the debug build that scripts/run and scripts/test serve. A copy newer than
// its file is kept.
//
//   node scripts/lib/precompress.mjs target/site/pkg
import { readdirSync, readFileSync, statSync, writeFileSync, existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import zlib from 'node:zlib';

const dir = process.argv[2];
if (!dir || !existsSync(dir)) {
  console.error(`precompress: no folder ${dir}`);
  process.exit(2);
}
const files = readdirSync(dir);
for (const f of files) {
  // Copies of files that are gone (an older build's hashed names).
  const m = /^(.*)\.(br|gz)$/.exec(f);
  if (m && !files.includes(m[1])) unlinkSync(join(dir, f));
}
for (const f of files.filter((f) => /\.(js|css|wasm)$/.test(f))) {
  const path = join(dir, f);
  const mtime = statSync(path).mtimeMs;
  const fresh = (p) => existsSync(p) && statSync(p).mtimeMs >= mtime;
  const data = readFileSync(path);
  if (!fresh(`${path}.br`)) {
    // Quality 11 is slow on a multi-megabyte debug module; 9 is close in size.
    const quality = data.length > 1_000_000 ? 9 : 11;
    const br = zlib.brotliCompressSync(data, {
      params: { [zlib.constants.BROTLI_PARAM_QUALITY]: quality, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length },
    });
    writeFileSync(`${path}.br`, br);
  }
  if (!fresh(`${path}.gz`)) writeFileSync(`${path}.gz`, zlib.gzipSync(data, { level: 9 }));
}
