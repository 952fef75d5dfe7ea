// End-to-end tests of the built site (`dist/`, from `cargo xtask site`) in Debian's
// headless Chromium, on the CPU fallback (no WebGPU adapter) and on SwiftShader WebGPU.
// Run: `cargo xtask test` (or `node --test e2e/` in tests/ after a site build).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const dist = path.join(repo, 'dist');
const artifacts = path.join(process.env.CARGO_TARGET_DIR || path.join(repo, 'target'), 'e2e');
fs.mkdirSync(artifacts, { recursive: true });

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.json': 'application/json' };
let server; let base;
const requests = [];

before(async () => {
  assert.ok(fs.existsSync(path.join(dist, 'index.html')), 'dist/index.html missing: build the site first (cargo xtask test does)');
  server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let file = path.join(dist, decodeURIComponent(url.pathname));
    if (!file.startsWith(dist)) { res.writeHead(403); return res.end(); }
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    if (!fs.existsSync(file)) { res.writeHead(404); return res.end('not found'); }
    const size = fs.statSync(file).size;
    requests.push({ path: url.pathname, size });
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'content-length': size });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}/`;
});
after(() => server && server.close());

async function launch(webgpu) {
  const args = ['--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
  if (webgpu) args.push('--enable-unsafe-webgpu');
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'langbias-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, { executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args, viewport: { width: 1280, height: 1000 } });
  // The profile (about 180 MB with the model cached) goes with the browser. Chromium's helper
  // processes may still write to it as the context closes (ENOTEMPTY): retry, and never fail a
  // test over a temporary directory.
  context.on('close', () => {
    try {
      fs.rmSync(userDataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    } catch (e) {
      console.log(`note: the temporary profile ${userDataDir} was left behind (${e.code})`);
    }
  });
  return context;
}

async function openReady(context, query = '') {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => assert.ok(r.url().startsWith(base) || r.url().startsWith('data:') || r.url().startsWith('blob:'), `request to another origin: ${r.url()}`));
  const t0 = Date.now();
  await page.goto(base + query);
  await page.waitForSelector('#stage[data-stage="ready"], #stage[data-stage="failed"]', { timeout: 600_000 });
  const stage = await page.getAttribute('#stage', 'data-stage');
  assert.equal(stage, 'ready', `model failed to load: ${await page.textContent('.alerts[data-place="page"]')}`);
  return { page, errors, loadMs: Date.now() - t0 };
}

const fixture = JSON.parse(fs.readFileSync(path.join(repo, 'tests/fixtures/encoder/reference.json'), 'utf8'));

async function checkFixtures(page, label, maxTokens = Infinity) {
  const texts = fixture.texts.filter((t) => t.input_ids.length <= maxTokens);
  const got = await page.evaluate(async (items) => {
    const out = [];
    for (const kind of ['query', 'passage']) {
      const batch = items.filter((t) => t.kind === kind);
      const flat = await window.wasmBindings.langbias_embed(kind, batch.map((t) => t.text));
      batch.forEach((t, i) => out.push({ id: t.id, v: Array.from(flat.slice(i * 384, (i + 1) * 384)) }));
    }
    return out;
  }, texts.map((t) => ({ id: t.id, kind: t.kind, text: t.text })));
  const ref = Object.fromEntries(texts.map((t) => [t.id, t.embedding]));
  let worst = 1;
  for (const { id, v } of got) {
    const cos = v.reduce((s, x, i) => s + x * ref[id][i], 0);
    worst = Math.min(worst, cos);
    assert.ok(cos >= 0.9999, `${label}: ${id} cosine ${cos}`);
  }
  console.log(`${label}: ${got.length} fixture texts, worst cosine ${worst.toFixed(6)}`);
}

// Embeds the fixture texts of up to `maxTokens` tokens again (one batch per kind, as
// checkFixtures does, so every shape is already compiled) and returns the time it took.
async function warmEmbedSpeed(page, label, maxTokens) {
  const items = fixture.texts.filter((t) => t.input_ids.length <= maxTokens).map((t) => ({ kind: t.kind, text: t.text }));
  const ms = await page.evaluate(async (items) => {
    const t0 = performance.now();
    for (const kind of ['query', 'passage']) {
      await window.wasmBindings.langbias_embed(kind, items.filter((t) => t.kind === kind).map((t) => t.text));
    }
    return performance.now() - t0;
  }, items);
  console.log(`${label}: warm, ${items.length} short texts (≤ ${maxTokens} tokens) in ${ms.toFixed(0)} ms = ${(items.length / ms * 1000).toFixed(1)} texts/s`);
}

// A measurement, not an assertion (set LANGBIAS_E2E_SWIFTSHADER_POOL=N to run it): embeds the
// English and German passages of the first N demo topics as one batch twice (the first pass
// compiles the shaders for that shape) and one query twice, and logs documents/s and ms per
// query.
async function poolIndexingSpeed(page, label, topics) {
  const pool = JSON.parse(fs.readFileSync(path.join(repo, 'public/pools/everyday.json'), 'utf8'));
  const groups = new Set(pool.documents.map((d) => d.group));
  const chosen = [...groups].slice(0, topics);
  const docs = pool.documents.filter((d) => chosen.includes(d.group) && (d.lang === 'en' || d.lang === 'de')).map((d) => d.text);
  const times = await page.evaluate(async (docs) => {
    const t = [];
    for (let pass = 0; pass < 2; pass++) {
      const t0 = performance.now();
      await window.wasmBindings.langbias_embed('passage', docs);
      t.push(performance.now() - t0);
    }
    for (let pass = 0; pass < 2; pass++) {
      const q0 = performance.now();
      await window.wasmBindings.langbias_embed('query', ['Wie entsteht ein Regenbogen am Himmel?']);
      t.push(performance.now() - q0);
    }
    return t;
  }, docs);
  const rate = (ms) => (docs.length / ms * 1000).toFixed(2);
  console.log(`${label}: pool indexing, ${docs.length} demo passages (${topics} topics, en+de): first pass ${times[0].toFixed(0)} ms (${rate(times[0])} documents/s, shader compilation included), warm ${times[1].toFixed(0)} ms (${rate(times[1])} documents/s); one query ${times[2].toFixed(0)} ms cold, ${times[3].toFixed(0)} ms warm`);
}

async function rankGerman(page) {
  await page.fill('#query', 'Wie entsteht ein Regenbogen am Himmel?');
  // A typed query has no judged topic until the visitor marks the passage that answers it:
  // no metrics of another topic are shown meanwhile.
  await page.waitForFunction(() => document.querySelector('#col-base li[data-group="t05"] button.answer'), null, { timeout: 300_000 });
  assert.equal(await page.$('#col-base .max-r'), null, 'no metrics before the typed query is judged');
  await page.click('#col-base li[data-group="t05"] button.answer');
  await page.waitForFunction(() => /\d/.test(document.querySelector('#col-base .max-r')?.textContent || ''), null, { timeout: 300_000 });
  const maxR = Number(await page.textContent('#col-base .max-r'));
  assert.ok(maxR >= 2, 'Max@R counts both parallel documents');
  assert.ok(await page.isVisible('#col-aligned'));
  return maxR;
}

test('CPU fallback: loads the real model, matches the reference, ranks a German query', async () => {
  const context = await launch(false);
  try {
    const { page, errors, loadMs } = await openReady(context);
    assert.match(await page.textContent('#backend'), /CPU/);
    // Through the page's encoder workers: the PyTorch reference vectors.
    await checkFixtures(page, 'cpu');
    await warmEmbedSpeed(page, 'cpu', 12);
    const t0 = Date.now();
    const maxR = await rankGerman(page);
    console.log(`cpu: cold load ${loadMs} ms, first ranking ${Date.now() - t0} ms, Max@R ${maxR}; perf: ${await page.textContent('#perf')}`);
    // Max@R shown equals the native evaluator on the same pool and query.
    const url = page.url();
    const cli = process.env.LANGBIAS_CLI;
    assert.ok(cli && fs.existsSync(cli), 'LANGBIAS_CLI must name the built `langbias` binary (cargo xtask test sets it)');
    {
      const native = JSON.parse(execFileSync(cli, ['rank', '--pool', path.join(repo, 'public/pools/everyday.json'), '--langs', 'en,de', '--topics', '40', '--distractors', '22', '--query-id', 't05.q1.de', '--text', 'Wie entsteht ein Regenbogen am Himmel?'], { encoding: 'utf8' }));
      assert.equal(maxR, native.max_rank, 'browser and native evaluator agree on Max@R');
    }
    // With the shipped aligned adapter, the second column ranks too and agrees with the CLI.
    if (fs.existsSync(path.join(repo, 'public/adapters/aligned.safetensors'))) {
      await page.waitForFunction(() => /\d/.test(document.querySelector('#col-aligned .max-r')?.textContent || ''), null, { timeout: 300_000 });
      const alignedMaxR = Number(await page.textContent('#col-aligned .max-r'));
      const native = JSON.parse(execFileSync(cli, ['rank', '--model', 'aligned', '--centre', 'off', '--zscore', 'off', '--pool', path.join(repo, 'public/pools/everyday.json'), '--langs', 'en,de', '--topics', '40', '--distractors', '22', '--query-id', 't05.q1.de', '--text', 'Wie entsteht ein Regenbogen am Himmel?'], { encoding: 'utf8', cwd: repo }));
      assert.equal(alignedMaxR, native.max_rank, 'aligned column and native evaluator agree on Max@R');
      // The centred column on the aligned model agrees with `rank --centre`.
      await page.selectOption('#centre-on', 'aligned');
      await page.waitForFunction(() => /Aligned \+ language centring/.test(document.querySelector('#col-centred h2')?.textContent || '') && !document.querySelector('#col-centred').classList.contains('outdated') && /\d/.test(document.querySelector('#col-centred .max-r')?.textContent || ''), null, { timeout: 120_000 });
      const centred = JSON.parse(execFileSync(cli, ['rank', '--model', 'aligned', '--centre', '--pool', path.join(repo, 'public/pools/everyday.json'), '--langs', 'en,de', '--topics', '40', '--distractors', '22', '--query-id', 't05.q1.de', '--text', 'Wie entsteht ein Regenbogen am Himmel?'], { encoding: 'utf8', cwd: repo }));
      assert.equal(Number(await page.textContent('#col-centred .max-r')), centred.max_rank, 'aligned + centring agrees with the native evaluator');
      assert.match(page.url(), /centre=aligned/);
      // Per-language z-scores of the aligned model's scores agree with `rank --zscore`.
      await page.selectOption('#debias-method', 'zscore');
      await page.waitForFunction(() => /Aligned \+ per-language z-scores/.test(document.querySelector('#col-centred h2')?.textContent || '') && !document.querySelector('#col-centred').classList.contains('outdated') && /\d/.test(document.querySelector('#col-centred .max-r')?.textContent || ''), null, { timeout: 120_000 });
      const zscored = JSON.parse(execFileSync(cli, ['rank', '--model', 'aligned', '--zscore', '--pool', path.join(repo, 'public/pools/everyday.json'), '--langs', 'en,de', '--topics', '40', '--distractors', '22', '--query-id', 't05.q1.de', '--text', 'Wie entsteht ein Regenbogen am Himmel?'], { encoding: 'utf8', cwd: repo }));
      assert.equal(zscored.zscore, true);
      assert.equal(Number(await page.textContent('#col-centred .max-r')), zscored.max_rank, 'aligned + z-scores agrees with the native evaluator');
      assert.match(page.url(), /method=zscore/);
      // Routing, the declared ranking of `rank --model aligned` (base model for the query's
      // language, aligned for English, then z-scores): the same Max@R and the same top five.
      await page.selectOption('#debias-method', 'routed');
      await page.waitForFunction(() => /Routed/.test(document.querySelector('#col-centred h2')?.textContent || '') && !document.querySelector('#col-centred').classList.contains('outdated') && /\d/.test(document.querySelector('#col-centred .max-r')?.textContent || ''), null, { timeout: 120_000 });
      const routed = JSON.parse(execFileSync(cli, ['rank', '--model', 'aligned', '--pool', path.join(repo, 'public/pools/everyday.json'), '--langs', 'en,de', '--topics', '40', '--distractors', '22', '--query-id', 't05.q1.de', '--text', 'Wie entsteht ein Regenbogen am Himmel?'], { encoding: 'utf8', cwd: repo }));
      assert.equal(routed.routed, true, 'the shipped adapter declares routing');
      assert.equal(Number(await page.textContent('#col-centred .max-r')), routed.max_rank, 'routing agrees with the native evaluator');
      const top = await page.$$eval('#col-centred ol.hits li', (lis) => lis.slice(0, 5).map((li) => li.dataset.doc));
      assert.deepEqual(top, routed.hits.slice(0, 5).map((h) => h.id), 'routing: the same top five as `rank --model aligned`');
      assert.match(page.url(), /method=routed/);
      const note = await page.textContent('#col-centred .feedback-note');
      assert.match(note, /^Feedback from /, 'routing says which passage fed back');
      assert.equal(/its clear match in/.test(note), routed.feedback.languages.length > 0, `the page and \`rank\` agree on whether feedback lifted a language: ${note}`);
      console.log(`aligned: Max@R centred ${centred.max_rank}, z-scores ${zscored.max_rank}, routed ${routed.max_rank}`);
      await page.selectOption('#debias-method', 'centre');
      await page.selectOption('#centre-on', 'base');
      // Run all: a table and a chart with the three columns' models.
      await page.click('details.runall summary');
      await page.click('#run-all');
      await page.waitForSelector('#results tbody tr', { timeout: 300_000 });
      const heads = await page.$$eval('#results thead th', (ths) => ths.map((t) => t.textContent));
      for (const h of ['Max@R base', 'Max@R aligned', 'Max@R base+centre']) assert.ok(heads.includes(h), `run-all column ${h} in ${heads}`);
      const cells = await page.$$eval('#results tbody tr:first-child td', (tds) => tds.map((t) => t.textContent));
      assert.ok(cells.slice(1, 4).every((c) => Number.isFinite(Number(c))), `run-all Max@R means are numbers: ${cells}`);
      assert.equal(await page.$$eval('.chart svg rect[fill]', (r) => r.length) >= 3 + 3, true, 'a legend and bars for three models');
      console.log(`run all (de): Max@R base / aligned / base+centre ${cells.slice(1, 4).join(' / ')}`);
      assert.equal((await page.$$('.heatmap figure.heat')).length, 2, 'one heatmap per model');
      console.log(`aligned: Max@R ${alignedMaxR} (base ${maxR})`);
    }
    // The shareable URL restores pool, query and model.
    assert.match(url, /ql=de/);
    assert.match(url, /text=/);
    const again = await context.newPage();
    const reloadStart = Date.now();
    await again.goto(url);
    await again.waitForSelector('#stage[data-stage="ready"]', { timeout: 600_000 });
    const reloadReady = Date.now() - reloadStart;
    await again.waitForFunction(() => document.querySelectorAll('#col-base ol.hits li').length > 0, null, { timeout: 300_000 });
    const cacheBadge = await again.textContent('#cache');
    console.log(`cpu: reload with the model in the Cache API: ready ${reloadReady} ms, first ranking ${Date.now() - reloadStart} ms; ${cacheBadge}`);
    assert.match(cacheBadge, /from the browser cache/, 'the reload does not download the model again');
    assert.equal(await again.inputValue('#query'), 'Wie entsteht ein Regenbogen am Himmel?');
    assert.equal(Number(await again.textContent('#col-base .max-r')), maxR);
    // A malformed upload shows an error and keeps the current pool.
    await page.setInputFiles('#upload', { name: 'broken.json', mimeType: 'application/json', buffer: Buffer.from('{"format": "langbias-pool/1", "documents": [') });
    // The error appears beside the upload control, not at the top of the page.
    await page.waitForSelector('.alert.error[data-place="data"]');
    assert.match(await page.textContent('.alert.error[data-place="data"]'), /broken\.json/);
    assert.equal(await page.$('.alert.error[data-place="page"]'), null);
    assert.ok((await page.$$('#col-base ol.hits li')).length > 0, 'the pool is kept');
    // A typed document without a chosen language: the page guesses it among the pool's.
    await page.bringToFront();
    await page.fill('#add-text', 'Die Katze schläft jeden Nachmittag auf dem warmen Fensterbrett in der Küche.');
    await page.click('text=Add document');
    await page.waitForSelector('.alert.notice[data-place="data"]');
    assert.match(await page.textContent('.alert.notice[data-place="data"]'), /Added in de \(detected/);
    await page.screenshot({ path: path.join(artifacts, 'main-cpu.png'), fullPage: false });
    // A pool with a single German document: centring the aligned model centres it on the
    // adapter's stored German mean (the column says so), as `langbias rank` does; Max@R agrees.
    if (fs.existsSync(path.join(repo, 'public/adapters/aligned.safetensors'))) {
      const everyday = JSON.parse(fs.readFileSync(path.join(repo, 'public/pools/everyday.json'), 'utf8'));
      const oneDe = {
        ...everyday,
        name: 'one-de',
        documents: everyday.documents.filter((d) => ['t01', 't02', 't03'].includes(d.group) && (d.lang === 'en' || (d.lang === 'de' && d.group === 't01'))),
        queries: everyday.queries.filter((q) => q.id === 't01.q1.de'),
      };
      const poolFile = path.join(artifacts, 'one-de.json');
      fs.writeFileSync(poolFile, JSON.stringify(oneDe));
      await page.setInputFiles('#upload', poolFile);
      await page.waitForFunction(() => /Loaded “one-de”/.test(document.querySelector('.alert.notice[data-place="data"]')?.textContent || ''), null, { timeout: 60_000 });
      await page.selectOption('#centre-on', 'aligned');
      await page.waitForFunction(() => document.querySelector('#col-centred .stored-means') && /\d/.test(document.querySelector('#col-centred .max-r')?.textContent || '') && !document.querySelector('#col-centred').classList.contains('outdated'), null, { timeout: 300_000 });
      assert.match(await page.textContent('#col-centred .stored-means'), /One document in de:/);
      const native = JSON.parse(execFileSync(cli, ['rank', '--model', 'aligned', '--centre', '--pool', poolFile, '--langs', 'en,de', '--topics', '1', '--distractors', '2', '--query-id', 't01.q1.de'], { encoding: 'utf8', cwd: repo }));
      assert.deepEqual(native.centred_on_stored_means, ['de']);
      assert.equal(Number(await page.textContent('#col-centred .max-r')), native.max_rank, 'stored-mean centring agrees with the native evaluator');
      console.log(`one German document, centred on the stored mean: Max@R ${native.max_rank} (page and CLI)`);
    }
    assert.deepEqual(errors, []);
    const modelBytes = requests.filter((r) => r.path.startsWith('/models/') || r.path.startsWith('/adapters/')).reduce((s, r) => s + r.size, 0);
    console.log(`transferred for the model: ${(modelBytes / 1e6).toFixed(1)} MB`);
    assert.ok(modelBytes <= 75e6 * 2, 'two page loads at most');
  } finally {
    await context.close();
  }
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('built-in pool: ranked from the build-time embeddings before the model is ready; a corrupt file falls back', async () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(repo, 'public/models/manifest.json'), 'utf8'));
  assert.ok(manifest.precomputed.length >= 1, 'the manifest lists build-time embeddings (cargo xtask setup)');
  const context = await launch(false);
  try {
    // The model download is held back, so the first ranking can only come from the build-time files.
    let release;
    const held = new Promise((r) => { release = r; });
    await context.route('**/models/*.bin', async (route) => { await held; await route.continue(); });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const t0 = Date.now();
    await page.goto(base);
    await page.waitForFunction(() => /\d/.test(document.querySelector('#col-base .max-r')?.textContent || ''), null, { timeout: 60_000 });
    const firstMs = Date.now() - t0;
    assert.notEqual(await page.getAttribute('#stage', 'data-stage'), 'ready', 'ranked before the model is ready');
    assert.equal(await page.getAttribute('#source', 'data-source'), 'build');
    assert.match(await page.textContent('#source'), /computed with the same model at build time/);
    const baseMaxR = Number(await page.textContent('#col-base .max-r'));
    if (manifest.aligned) await page.waitForFunction(() => /\d/.test(document.querySelector('#col-aligned .max-r')?.textContent || ''), null, { timeout: 10_000 });
    assert.ok(await page.$('#col-centred ol.hits li'), 'the centring column ranks too');
    release();
    await page.waitForSelector('#stage[data-stage="ready"]', { timeout: 600_000 });
    await page.waitForFunction(() => /cosine ≥ (0\.9999|1\.0000)/.test(document.querySelector('#source')?.textContent || ''), null, { timeout: 60_000 });
    assert.equal(Number(await page.textContent('#col-base .max-r')), baseMaxR, 'the same ranking once the model is ready');
    console.log(`build-time embeddings: open → first ranking ${firstMs} ms with nothing cached (model held back); ${await page.textContent('#source')}`);
    await page.screenshot({ path: path.join(artifacts, 'precomputed-cpu.png') });
    // Reload: everything from the Cache API.
    const t1 = Date.now();
    await page.reload();
    await page.waitForFunction(() => /\d/.test(document.querySelector('#col-base .max-r')?.textContent || ''), null, { timeout: 60_000 });
    console.log(`build-time embeddings: open → first ranking ${Date.now() - t1} ms cached`);
    assert.deepEqual(errors, []);
    await page.close();

    // A truncated build-time file: the page says why and embeds in the browser instead (a
    // small pool, so the page indexes 10 passages, not 124), in its encoder workers, with the
    // native evaluator's result; the main thread stays free while the workers index.
    const fresh = await launch(false);
    try {
      await fresh.route('**/embeddings/*.lbemb', async (route) => {
        const response = await route.fetch();
        const body = await response.body();
        await route.fulfill({ response, body: body.subarray(0, body.length - 100) });
      });
      await fresh.addInitScript(() => {
        window.__longtasks = [];
        new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longtasks.push({ start: e.startTime, ms: e.duration }); }).observe({ type: 'longtask', buffered: true });
      });
      const view = '#ql=de&langs=en,de&topics=5&d=0&q=t05.q1.de&model=both';
      const p2 = await fresh.newPage();
      const pageErrors = [];
      p2.on('pageerror', (e) => pageErrors.push(String(e)));
      await p2.goto(base + view);
      await p2.waitForSelector('#stage[data-stage="ready"]', { timeout: 600_000 });
      const readyAt = await p2.evaluate(() => performance.now());
      assert.match(await p2.textContent('#backend'), /CPU.*worker/, 'the CPU path embeds in Web Workers');
      await p2.waitForFunction(() => /\d/.test(document.querySelector('#col-base .max-r')?.textContent || '') && /\d/.test(document.querySelector('#col-aligned .max-r')?.textContent || ''), null, { timeout: 600_000 });
      const longest = await p2.evaluate((t) => Math.max(0, ...window.__longtasks.filter((e) => e.start >= t).map((e) => e.ms)), readyAt);
      console.log(`workers: 10 passages × 2 models indexed after ready; longest main-thread task meanwhile ${longest.toFixed(0)} ms; ${await p2.textContent('#perf')}`);
      assert.ok(longest < 500, `the main thread stays responsive while the workers index (longest task ${longest} ms)`);
      assert.equal(await p2.getAttribute('#source', 'data-source'), 'page');
      assert.match(await p2.textContent('#source details'), /corrupt or truncated/);
      const native = JSON.parse(execFileSync(process.env.LANGBIAS_CLI, ['rank', '--pool', path.join(repo, 'public/pools/everyday.json'), '--langs', 'en,de', '--topics', '5', '--distractors', '0', '--query-id', 't05.q1.de'], { encoding: 'utf8' }));
      assert.equal(Number(await p2.textContent('#col-base .max-r')), native.max_rank, 'the page computes the native ranking itself');
      const order = (page, col) => page.$$eval(`${col} ol.hits li`, (lis) => lis.map((li) => li.dataset.doc));
      const workerOrder = [await order(p2, '#col-base'), await order(p2, '#col-aligned')];
      assert.match(await p2.textContent('#perf'), /[1-9]\d* embedded in this browser/);

      // Reload: every vector comes back from IndexedDB, nothing is embedded again.
      await p2.reload();
      await p2.waitForSelector('#stage[data-stage="ready"]', { timeout: 600_000 });
      await p2.waitForFunction(() => /\d/.test(document.querySelector('#col-aligned .max-r')?.textContent || ''), null, { timeout: 600_000 });
      const perf = await p2.textContent('#perf');
      console.log(`reload: ${perf}`);
      assert.match(perf, /\D0 embedded in this browser, [1-9]\d* read from its store/, 'the reload reuses the stored embeddings');

      // The same view embedded on the main thread (?workers=0; ?store=0 so nothing comes from
      // IndexedDB): the same rankings.
      const p3 = await fresh.newPage();
      await p3.goto(base + '?workers=0&store=0' + view);
      await p3.waitForSelector('#stage[data-stage="ready"]', { timeout: 600_000 });
      await p3.waitForFunction(() => /\d/.test(document.querySelector('#col-aligned .max-r')?.textContent || ''), null, { timeout: 600_000 });
      assert.doesNotMatch(await p3.textContent('#backend'), /worker/);
      assert.deepEqual([await order(p3, '#col-base'), await order(p3, '#col-aligned')], workerOrder, 'workers and the main thread rank alike');
      assert.deepEqual(pageErrors, []);
    } finally {
      await fresh.close();
    }
  } finally {
    await context.close();
  }
});

test('software WebGPU (SwiftShader): real model on the GPU path, parity self-test, reference fixtures', { timeout: 1_200_000 }, async () => {
  const context = await launch(true);
  try {
    // An empty pool (0 topics), so the page does not start ranking on the slow software GPU.
    const { page, loadMs } = await openReady(context, '#ql=de&langs=en,de&topics=0&d=0&model=both');
    const backend = await page.textContent('#backend');
    const note = await page.textContent('.note');
    console.log(`webgpu: backend "${backend}", note "${note}", load ${loadMs} ms`);
    assert.match(backend, /WebGPU/, 'the SwiftShader adapter is used');
    assert.match(note, /parity cosine 1\.0|parity cosine 0\.9999/);
    // The fixture texts of up to 12 tokens (18 texts: Latin, Arabic, Hebrew, Devanagari, Thai,
    // Han, emoji, empty). SwiftShader compiles and runs every shader on the CPU: each new
    // batch shape costs minutes here, so ranking a pool is left to the CPU test above.
    let t0 = Date.now();
    await checkFixtures(page, 'webgpu', 12);
    console.log(`webgpu: first embedding of the fixtures (compiles the shaders) ${Date.now() - t0} ms`);
    // A measurement, not an assertion, and a minute or more on SwiftShader: on request only.
    if (process.env.LANGBIAS_E2E_SWIFTSHADER_WARM) await warmEmbedSpeed(page, 'webgpu', 12);
    if (process.env.LANGBIAS_E2E_SWIFTSHADER_POOL) await poolIndexingSpeed(page, 'webgpu', Number(process.env.LANGBIAS_E2E_SWIFTSHADER_POOL));
    await page.screenshot({ path: path.join(artifacts, 'main-webgpu.png') });
  } finally {
    await context.close();
  }
});
