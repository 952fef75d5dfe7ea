// Browser benchmark of the built site (`dist/`), headless Chromium, CPU path (no WebGPU):
// a measurement, not a test. Run from tests/ after `cargo xtask site`:
//   node bench/site.mjs
// Logs: open → first ranking of a built-in question (nothing cached / cached), a typed query →
// both columns ranked once the model is ready, documents/s for an uploaded pool of 124
// passages with 1 and with 2 encoder workers, and the longest main-thread task meanwhile.
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dist = path.join(repo, 'dist');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.json': 'application/json' };
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  let file = path.join(dist, decodeURIComponent(url.pathname));
  if (!file.startsWith(dist)) { res.writeHead(403); return res.end(); }
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
  if (!fs.existsSync(file)) { res.writeHead(404); return res.end(); }
  res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream' });
  fs.createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}/`;
const context = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), 'langbias-bench-')), {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--no-sandbox'], viewport: { width: 1280, height: 1000 },
});
await context.addInitScript(() => {
  window.__longtasks = [];
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__longtasks.push({ start: e.startTime, ms: e.duration }); }).observe({ type: 'longtask', buffered: true });
});
const ranked = (col) => `/\\d/.test(document.querySelector('${col} .max-r')?.textContent || '') && !document.querySelector('${col}').classList.contains('outdated')`;
const lines = [];
const log = (s) => { console.log(s); lines.push(s); };

// 1. Open → first ranking of the built-in question, nothing cached, then cached.
for (const label of ['nothing cached', 'cached']) {
  const page = await context.newPage();
  const t0 = Date.now();
  await page.goto(base);
  await page.waitForFunction(ranked('#col-base'), null, { timeout: 120_000 });
  log(`open → first ranking (${label}): ${Date.now() - t0} ms`);
  if (label === 'cached') {
    // 2. A typed query, once the model is ready: both columns ranked.
    await page.waitForSelector('#stage[data-stage="ready"]', { timeout: 600_000 });
    await page.waitForTimeout(1000);
    const t1 = Date.now();
    await page.fill('#query', 'Warum ist der Himmel blau?');
    await page.waitForFunction(() => [...document.querySelectorAll('#col-base, #col-aligned')].every((c) => !c.classList.contains('outdated') && c.querySelector('ol.hits li')), null, { timeout: 120_000 });
    log(`typed query → both columns ranked (model ready, 150 ms debounce included): ${Date.now() - t1} ms`);
  } else {
    await page.waitForSelector('#stage[data-stage="ready"]', { timeout: 600_000 });
  }
  await page.close();
}

// 3. An uploaded pool of 124 passages (the demo's en + de texts, marked so that no build-time
// or stored vector matches), indexed by 1 and by 2 workers.
const pool = JSON.parse(fs.readFileSync(path.join(repo, 'public/pools/everyday.json'), 'utf8'));
const docs = pool.documents.filter((d) => d.lang === 'en' || d.lang === 'de');
for (const workers of (process.env.WORKERS || '1,2').split(',').map(Number)) {
  const tag = `[bench ${workers}] `;
  const upload = { ...pool, name: 'bench', documents: docs.map((d) => ({ ...d, text: tag + d.text })), queries: pool.queries.filter((q) => q.lang === 'de' || q.lang === 'en') };
  const page = await context.newPage();
  await page.goto(`${base}?workers=${workers}&store=0`);
  await page.waitForSelector('#stage[data-stage="ready"]', { timeout: 600_000 });
  await page.waitForFunction(ranked('#col-aligned'), null, { timeout: 120_000 });
  const t0 = await page.evaluate(() => performance.now());
  await page.setInputFiles('#upload', { name: 'bench.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(upload)) });
  await page.waitForFunction(() => /Loaded “bench”/.test(document.querySelector('.notice')?.textContent || ''), null, { timeout: 60_000 });
  await page.waitForFunction(ranked('#col-aligned'), null, { timeout: 1_200_000 });
  const perf = await page.textContent('#perf');
  const ms = [...perf.matchAll(/(\d+) documents indexed or read in (\d+) ms/g)].map((m) => [Number(m[1]), Number(m[2])]);
  const longest = await page.evaluate((t) => Math.max(0, ...window.__longtasks.filter((e) => e.start >= t).map((e) => e.ms)), t0);
  const rates = ms.map(([n, t]) => `${(n / t * 1000).toFixed(1)}`).join(' / ');
  log(`${workers} worker${workers > 1 ? 's' : ''}: ${ms[0]?.[0]} uploaded passages indexed at ${rates} documents/s (base / aligned); longest main-thread task while indexing ${longest.toFixed(0)} ms`);
  await page.close();
}
await context.close();
server.close();
log(`machine: ${os.cpus().length} logical cores (${os.cpus()[0].model}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; Chromium headless, CPU path`);
