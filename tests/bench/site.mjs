// Browser benchmark of the built site (`dist/`), headless Chromium, CPU path (no WebGPU):
// a measurement, not a test. Run from tests/ after `cargo xtask site`:
//   node bench/site.mjs
// Logs: open → first ranking of a built-in question (nothing cached / cached), a typed query →
// both columns ranked once the model is ready, documents/s for an uploaded pool of 124
// passages with 1 and with 2 encoder workers, and the longest main-thread task meanwhile.
// Then onnxruntime-web on the same passages in the same browser (section 4, tests/bench/ort.html),
// fp32 and int8 with 1 and 2 wasm threads, and its rates over the site's 1-worker rate. It needs
// `npm ci` in tests/bench/ and the ONNX files of scripts/onnx_export.py (else it says so and skips).
// Environment: WORKERS=1,2 (site), ORT=0 (no section 4), ORT_THREADS=1,2, ONLY=ort (section 4
// alone), ONNX_DIR (default ~/.cache/langbias/onnx), CHROMIUM (default /usr/bin/chromium),
// DIST (the site to measure, default dist/; e.g. a copy of an earlier build, for a same-session
// comparison).
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dist = process.env.DIST || path.join(repo, 'dist');
const ortDist = path.join(repo, 'tests/bench/node_modules/onnxruntime-web/dist');
const onnxDir = process.env.ONNX_DIR || path.join(os.homedir(), '.cache/langbias/onnx');
// URL prefix → folder, first match: section 4's page, onnxruntime-web's wasm backend and the
// ONNX files under their own prefixes, the site at the root.
const ROOTS = [['/__bench/', path.join(repo, 'tests/bench')], ['/__ort/', ortDist], ['/__onnx/', onnxDir], ['/', dist]];
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.json': 'application/json' };
// Every response makes its page cross-origin isolated (SharedArrayBuffer, so onnxruntime-web
// can run wasm threads). The site loads nothing from another origin, so its pages, Web Workers
// and wasm load as before.
const ISOLATED = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const [prefix, root] = ROOTS.find(([p]) => url.pathname.startsWith(p));
  let file = path.join(root, decodeURIComponent(url.pathname.slice(prefix.length - 1)));
  if (!file.startsWith(root)) { res.writeHead(403, ISOLATED); return res.end(); }
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
  if (!fs.existsSync(file)) { res.writeHead(404, ISOLATED); return res.end(); }
  res.writeHead(200, { ...ISOLATED, 'content-type': TYPES[path.extname(file)] || 'application/octet-stream' });
  fs.createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}/`;
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'langbias-bench-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--no-sandbox'], viewport: { width: 1280, height: 1000 },
});
context.on('close', () => fs.rmSync(profile, { recursive: true, force: true }));
await context.addInitScript(() => {
  window.__longtasks = [];
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__longtasks.push({ start: e.startTime, ms: e.duration }); }).observe({ type: 'longtask', buffered: true });
});
const ranked = (col) => `/\\d/.test(document.querySelector('${col} .max-r')?.textContent || '') && !document.querySelector('${col}').classList.contains('outdated')`;
const lines = [];
const log = (s) => { console.log(s); lines.push(s); };
const site = process.env.ONLY !== 'ort'; // ONLY=ort: sections 1–3 are skipped
const siteRates = new Map(); // workers → documents/s of the base model (section 3)

// 1. Open → first ranking of the built-in question, nothing cached, then cached.
for (const label of site ? ['nothing cached', 'cached'] : []) {
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
// or stored vector matches), indexed by 1 and by 2 workers; `WORKERS=1,2,1:int8` adds runs of
// the 8-bit CPU engine (`?precision=int8`).
const pool = JSON.parse(fs.readFileSync(path.join(repo, 'public/pools/everyday.json'), 'utf8'));
const docs = pool.documents.filter((d) => d.lang === 'en' || d.lang === 'de');
for (const run of site ? (process.env.WORKERS || '1,2').split(',') : []) {
  const [workers, precision = 'f32'] = run.split(':').map((v, i) => (i === 0 ? Number(v) : v));
  const tag = `[bench ${workers} ${precision}] `;
  const upload = { ...pool, name: 'bench', documents: docs.map((d) => ({ ...d, text: tag + d.text })), queries: pool.queries.filter((q) => q.lang === 'de' || q.lang === 'en') };
  const page = await context.newPage();
  await page.goto(`${base}?workers=${workers}&store=0&precision=${precision}`);
  await page.waitForSelector('#stage[data-stage="ready"]', { timeout: 600_000 });
  await page.waitForFunction(ranked('#col-aligned'), null, { timeout: 120_000 });
  const t0 = await page.evaluate(() => performance.now());
  await page.setInputFiles('#upload', { name: 'bench.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(upload)) });
  await page.waitForFunction(() => /Loaded “bench”/.test(document.querySelector('.alert.notice[data-place="data"]')?.textContent || ''), null, { timeout: 60_000 });
  await page.waitForFunction(ranked('#col-aligned'), null, { timeout: 1_200_000 });
  const perf = await page.textContent('#perf');
  const ms = [...perf.matchAll(/(\d+) documents indexed or read in (\d+) ms/g)].map((m) => [Number(m[1]), Number(m[2])]);
  const longest = await page.evaluate((t) => Math.max(0, ...window.__longtasks.filter((e) => e.start >= t).map((e) => e.ms)), t0);
  const rates = ms.map(([n, t]) => `${(n / t * 1000).toFixed(1)}`).join(' / ');
  if (ms[0]) siteRates.set(precision === 'f32' ? workers : `${workers}:${precision}`, ms[0][0] / ms[0][1] * 1000);
  if (precision !== 'f32') log(`${precision}: ${await page.textContent('#source')}`);
  log(`${workers} worker${workers > 1 ? 's' : ''}, ${precision}: ${ms[0]?.[0]} uploaded passages indexed at ${rates} documents/s (base / aligned); longest main-thread task while indexing ${longest.toFixed(0)} ms`);
  await page.close();
}

// 4. onnxruntime-web, what a user would pick instead, on the same 124 passages (marked
// "[bench ort] ", tokenised by scripts/onnx_export.py), fp32 and int8, in length-sorted
// batches of 8 (tests/bench/ort.html says what is timed). One page per thread count: the
// wasm backend reads its thread count once.
const missing = ['e5-small.fp32.onnx', 'e5-small.int8.onnx', 'bench-tokens.json'].filter((f) => !fs.existsSync(path.join(onnxDir, f)));
if (process.env.ORT === '0') {
  log('onnxruntime-web: skipped (ORT=0)');
} else if (!fs.existsSync(path.join(ortDist, 'ort.wasm.min.mjs'))) {
  log('onnxruntime-web: skipped, not installed (run `npm ci` in tests/bench/)');
} else if (missing.length) {
  log(`onnxruntime-web: skipped, ${missing.join(', ')} missing in ${onnxDir} (make them with scripts/onnx_export.py; its docstring has the command)`);
} else {
  const ortRates = [];
  for (const threads of (process.env.ORT_THREADS || '1,2').split(',').map(Number)) {
    const page = await context.newPage();
    await page.goto(`${base}__bench/ort.html`);
    await page.waitForFunction(() => typeof window.runBench === 'function', null, { timeout: 60_000 });
    const run = await page.evaluate((n) => window.runBench({ threads: n }), threads);
    if (threads > 1 && !run.crossOriginIsolated) log(`onnxruntime-web: the page is not cross-origin isolated, so ${threads} threads ran as 1`);
    for (const r of run.results) {
      const what = `${r.model}, ${threads} thread${threads > 1 ? 's' : ''}`;
      log(`onnxruntime-web ${run.version} ${what}: ${r.docsPerSecond.toFixed(1)} documents/s (${r.tokens} tokens padded to ${r.padded} in ${r.batches} batches; model load ${(r.loadMs / 1000).toFixed(1)} s; cosine with our encoder ${r.cosines.map((c) => c.toFixed(5)).join(' / ')})`);
      ortRates.push([what, r.docsPerSecond]);
    }
    await page.close();
  }
  const one = siteRates.get(1);
  log(one
    ? `onnxruntime-web / site with 1 worker (${one.toFixed(1)} documents/s, base model): ${ortRates.map(([what, rate]) => `${what} ${(rate / one).toFixed(2)}×`).join(', ')}`
    : 'onnxruntime-web / site: no ratio, the site was not measured with 1 worker in this run (ONLY=ort, or WORKERS without 1)');
  const int8 = siteRates.get('1:int8');
  if (int8) log(`onnxruntime-web / site's 8-bit engine with 1 worker (${int8.toFixed(1)} documents/s, base model): ${ortRates.map(([what, rate]) => `${what} ${(rate / int8).toFixed(2)}×`).join(', ')}`);
}
await context.close();
server.close();
log(`machine: ${os.cpus().length} logical cores (${os.cpus()[0].model}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; Chromium headless, CPU path`);
