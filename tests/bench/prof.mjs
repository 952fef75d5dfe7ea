// Where the page's encoder spends its time: a sampling profile (Chrome DevTools Protocol) of
// the indexing of the benchmark's uploaded pool (124 passages, both models) with the encoder
// on the page's own thread (`?workers=0`), printed as self time per function. A measurement
// aid, not a test. Run from tests/ after `cargo xtask site`:
//   node bench/prof.mjs            # PREC=f32 for the f32 engine (default int8)
// It serves a copy of dist/ in which the wasm is wasm-bindgen's output before wasm-opt (in
// $CARGO_TARGET_DIR/site/wasm-bindgen/, the same build), which keeps the functions' names.
// The raw profile goes to $OUT (default /tmp/langbias-encoder.cpuprofile; opens in DevTools).
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const target = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache/langbias/target');
const named = path.join(target, 'site/wasm-bindgen');
const precision = process.env.PREC || 'int8';
const dist = fs.mkdtempSync(path.join(os.tmpdir(), 'langbias-prof-dist-'));
fs.cpSync(path.join(repo, 'dist'), dist, { recursive: true });
for (const f of fs.readdirSync(dist)) {
  if (/^langbias-web_bg-.*\.wasm$/.test(f)) fs.copyFileSync(path.join(named, 'langbias-web_bg.wasm'), path.join(dist, f));
  if (/^langbias-web-.*\.js$/.test(f)) fs.copyFileSync(path.join(named, 'langbias-web.js'), path.join(dist, f));
}
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  let file = path.join(dist, decodeURIComponent(url.pathname));
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
  if (!fs.existsSync(file)) { res.writeHead(404); return res.end(); }
  const t = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.json': 'application/json' }[path.extname(file)] || 'application/octet-stream';
  res.writeHead(200, { 'content-type': t }); fs.createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}/`;
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'langbias-prof-'));
const context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
const pool = JSON.parse(fs.readFileSync(path.join(repo, 'public/pools/everyday.json'), 'utf8'));
const docs = pool.documents.filter((d) => d.lang === 'en' || d.lang === 'de');
const upload = { ...pool, name: 'bench', documents: docs.map((d) => ({ ...d, text: '[prof] ' + d.text })), queries: pool.queries.filter((q) => q.lang === 'de' || q.lang === 'en') };
const page = await context.newPage();
page.on('console', (m) => { if (m.type() === 'error') console.log('console:', m.text()); });
await page.goto(`${base}?workers=0&store=0&precision=${precision}`);
await page.waitForSelector('#stage[data-stage="ready"]', { timeout: 600_000 });
const ranked = (col) => `/\\d/.test(document.querySelector('${col} .max-r')?.textContent || '') && !document.querySelector('${col}').classList.contains('outdated')`;
await page.waitForFunction(ranked('#col-aligned'), null, { timeout: 300_000 });
const cdp = await context.newCDPSession(page);
await cdp.send('Profiler.enable');
await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
await cdp.send('Profiler.start');
const t0 = Date.now();
await page.setInputFiles('#upload', { name: 'bench.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(upload)) });
await page.waitForFunction(() => /Loaded “bench”/.test(document.querySelector('.alert.notice[data-place="data"]')?.textContent || ''), null, { timeout: 60_000 });
await page.waitForFunction(ranked('#col-aligned'), null, { timeout: 1_200_000 });
const { profile: prof } = await cdp.send('Profiler.stop');
console.log('wall', Date.now() - t0, 'ms');
console.log((await page.textContent('#perf')).match(/\d+ documents indexed or read in \d+ ms/g));
const self = new Map(); const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const dt = prof.timeDeltas; let total = 0;
prof.samples.forEach((id, i) => { const n = byId.get(id); const name = n.callFrame.functionName || n.callFrame.url || '(anon)'; self.set(name, (self.get(name) || 0) + (dt[i] || 0)); total += dt[i] || 0; });
const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40);
for (const [n, t] of top) console.log((t / 1000).toFixed(0).padStart(7), 'ms', (100 * t / total).toFixed(1).padStart(5), '%', n.slice(0, 150));
fs.writeFileSync(process.env.OUT || '/tmp/langbias-encoder.cpuprofile', JSON.stringify(prof));
await context.close();
for (const d of [profile, dist]) fs.rmSync(d, { recursive: true, force: true });
server.close();
