// The dashboard's Evaluations pages and modelab flags, in Debian's chromium (playwright-core),
// against a real gateway in front of mock-llm. Every number on a page is checked against the JSON
// the page read, formatted by the page's own formatters (ui/www/fmt.js).
//
// Seeded: experiment `qa` with variants `full` (mock-llm's 16 tokens "tok0 … tok15") and `short`
// (max_tokens 8: "tok0 … tok7"); 20 cases, case i asserting the answer contains "tok{i}", so
// full passes 16, short 8 — 8 discordant cases for McNemar. And a modelab flag `summary_style`
// ingested as the SDK sends it (assignments, executions, events), which the experiments list
// shows as a client-side experiment linked to its flag view.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { startGateway, startMock, stopChild, stopGateway, assertNoProblems } from '../e2e/harness.mjs';
import { DASH, evalCell, flagCell, int, points, pValue, rateCell, time } from '../../ui/www/fmt.js';

const ADMIN = 'ui-test-admin-token';
const SHOTS = process.env.UI_SCREENSHOTS || path.resolve('screenshots');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const WAIT_MS = 15000; // every wait for the page or the API is bounded by this
const FLAG = 'summary_style';
let mock, gw, browser, base;

const config = (port) => `
listen: 127.0.0.1:0
workers: 1
admin_token: ${ADMIN}
data_dir: ./data
log: { level: warn }
compat: { modelab: { enabled: true } }
upstreams: [ { name: mock, type: openai, base_url: http://127.0.0.1:${port}/v1, api_key: k } ]
models: [ { name: gpt-4o-mini, upstream: mock, price: { input_per_mtok: 0.15, output_per_mtok: 0.6 } } ]
experiments:
  - name: qa
    match: { model: qa }
    unit: header:x-user-id
    variants:
      - { name: full, weight: 0.5, model: gpt-4o-mini }
      - { name: short, weight: 0.5, model: gpt-4o-mini, params: { max_tokens: 8 } }
`;

const cases = Array.from({ length: 20 }, (_, i) => ({
  id: `case-${i}`,
  messages: [{ role: 'user', content: `case ${i}` }],
  assert: [{ type: 'contains', value: `tok${i}` }, { type: 'max-latency', value: 30000, metric: 'fast' }],
}));

async function call(method, p, body, auth = true) {
  const r = await fetch(`${base}/api/v1/${p}`, {
    method,
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${ADMIN}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${p}: ${r.status} ${text}`);
  return JSON.parse(text);
}
const api = (p) => call('GET', p, undefined, false);

/** Polls `fn` (async, truthy when done) every 100 ms, at most WAIT_MS; returns its value. */
async function until(fn, what) {
  const end = Date.now() + WAIT_MS;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function evaluate(body) {
  const { id } = await call('POST', 'evaluations', body);
  return until(async () => {
    const r = await api(`evaluations/${id}`);
    return r.status === 'completed' && r;
  }, `evaluation ${id}`);
}

// The SDK's records (shared/reference/seeds.md §2): 80 users, control succeeds half the time,
// concise 9 times in 10; some executions fail; a custom event on every third.
async function ingestFlag() {
  const assignments = [], executions = [], events = [];
  for (let i = 0; i < 80; i++) {
    const variant = i % 2 ? 'concise' : 'control';
    const id = `as-${i}`;
    assignments.push({ assignment_id: id, flag_name: FLAG, variant_name: variant, user_id: `user-${i}`,
      config_json: '{}', assigned_at: '2026-12-01T10:00:00' });
    executions.push({ assignment_id: id, latency_ms: 200 + (i % 7) * 30 + (variant === 'concise' ? -40 : 0),
      cost: 0.0004 + (i % 3) * 0.0001, input_tokens: 120 + i % 5, output_tokens: 40 + i % 9,
      error: i % 13 === 0 ? 'RateLimitError' : null, recorded_at: '2026-12-01T10:00:01' });
    const ok = variant === 'concise' ? i % 10 !== 1 : i % 4 < 2;
    events.push({ event_id: `ev-${i}`, assignment_id: id, event_type: ok ? 'success' : 'failure' });
    if (i % 3 === 0) events.push({ event_id: `ev-c-${i}`, assignment_id: id, event_type: 'custom', event_name: 'copied' });
  }
  for (const [kind, records] of [['assignments', assignments], ['executions', executions], ['events', events]]) {
    const r = await call('POST', `ingest/${kind}`, records, false);
    assert.equal(r.accepted, records.length, kind);
  }
}

let runs; // the two evaluations, in the order they ran

before(async () => {
  mock = await startMock();
  gw = await startGateway(config(mock.port));
  base = `http://127.0.0.1:${gw.port}`;
  runs = [await evaluate({ experiment: 'qa', dataset: 'golden', cases, min_pass_rate: 0.5 }),
    await evaluate({ experiment: 'qa', dataset: 'smoke', variants: ['full'], cases: cases.slice(0, 4) })];
  await ingestFlag();
  fs.mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  assertNoProblems([await stopGateway(gw), await stopChild(mock?.child)]);
});

/** Opens a page (fresh context, no token); `done()` asserts no console error and closes it. */
async function open(hash) {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${m.text()} ${m.location()?.url ?? ''}`); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}/ui/${hash}`);
  await page.waitForFunction(() => {
    const v = document.querySelector('#view');
    return v?.dataset.ready && !v.hasAttribute('aria-busy');
  }, null, { timeout: WAIT_MS });
  const done = async () => {
    await assertNoJunk(page, hash);
    assert.deepEqual(errors, [], `console errors on ${hash}`);
    await page.close();
  };
  return { page, done };
}

async function assertNoJunk(page, where) {
  const text = await page.innerText('#view');
  const junk = /\b(NaN|undefined|null|Infinity)\b|\[object /.exec(text);
  assert.equal(junk, null, `${where} shows "${junk?.[0]}"`);
  assert.equal(await page.$('#view .notice-bad[role=alert]'), null, `${where}: no error box`);
}

/**
 * Saves `name.png`, then renders the page again under prefers-color-scheme: dark, checks its
 * background really is dark and nothing reads NaN/null, saves `name-dark.png`, and goes back.
 */
async function screenshots(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  const luminance = () => page.evaluate(() => {
    const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  });
  assert.ok(await luminance() > 0.8, `${name}: light background`);
  for (const scheme of ['dark', 'light']) {
    const before = await page.$eval('#view', (v) => v.dataset.ready);
    await page.emulateMedia({ colorScheme: scheme });
    await page.waitForFunction((prev) => {
      const v = document.querySelector('#view');
      return v.dataset.ready !== prev && !v.hasAttribute('aria-busy');
    }, before, { timeout: WAIT_MS });
    if (scheme === 'dark') {
      assert.ok(await luminance() < 0.2, `${name}: dark background`);
      await assertNoJunk(page, `${name} (dark)`);
      await page.screenshot({ path: path.join(SHOTS, `${name}-dark.png`), fullPage: true });
    }
  }
}

const text = (page, sel) => page.textContent(sel).then((t) => t.trim());

test('the evaluations list: every run, its dataset, status, gate and per-variant pass rate with interval', async () => {
  const list = await api('evaluations');
  // Newest first; both started within a second, so their order is the store's tie-break (id).
  assert.deepEqual(list.data.map((e) => e.id).sort(), runs.map((e) => e.id).sort());
  const { page, done } = await open('#/evaluations');
  assert.deepEqual(await page.$$eval('tr[data-evaluation]', (rs) => rs.map((r) => r.dataset.evaluation)), list.data.map((e) => e.id));
  for (const e of list.data) {
    const row = `tr[data-evaluation="${e.id}"]`;
    assert.equal(await text(page, `${row} [data-cell="dataset"]`), e.dataset);
    assert.equal(await text(page, `${row} [data-cell="status"]`), 'completed');
    assert.equal(await text(page, `${row} [data-cell="cases"]`), int(e.cases));
    assert.equal(await text(page, `${row} [data-cell="when"]`), time(e.created_at));
    for (const v of e.variants) {
      for (const key of ['pass_rate', 'pass_rate_ci']) {
        assert.equal(await text(page, `${row} li[data-variant="${v.name}"] [data-cell="${key}"]`), evalCell(v, key), `${e.id} ${v.name} ${key}`);
      }
    }
  }
  // The seeded numbers, as a reader would check them: 16 of 20 and 8 of 20, the gate at 50% failed.
  const golden = list.data.find((e) => e.dataset === 'golden');
  assert.deepEqual(golden.variants.map((v) => v.passed), [16, 8]);
  assert.equal(await text(page, `tr[data-evaluation="${golden.id}"] [data-cell="pass_rate"]`), '80.0%');
  assert.match(await text(page, `tr[data-evaluation="${golden.id}"] [data-cell="gate"]`), /^failed ≥ 50\.0%$/);
  assert.match(await text(page, `tr[data-evaluation="${runs[1].id}"] [data-cell="gate"]`), /^no gate$/);
  assert.equal(await page.getAttribute('a[data-nav="evaluations"]', 'aria-current'), 'page');
  await screenshots(page, 'evaluations');
  // The run's link opens its report.
  await page.click(`tr[data-evaluation="${golden.id}"] th a`);
  await page.waitForSelector(`#view[data-page="evaluations/${golden.id}"]`, { timeout: WAIT_MS });
  await done();
});

test('a run: per-variant numbers, per-assertion and metric rates, McNemar pairs, failed cases — as the API says', async () => {
  const r = await api(`evaluations/${runs[0].id}`);
  const { page, done } = await open(`#/evaluations/${r.id}`);
  for (const v of r.variants) {
    for (const key of ['cases', 'passed', 'errors', 'pass_rate', 'pass_rate_ci', 'latency_p50', 'latency_p95', 'tokens', 'cost']) {
      assert.equal(await text(page, `.eval-variants tr[data-variant="${v.name}"] [data-cell="${key}"]`), evalCell(v, key), `${v.name} ${key}`);
    }
    for (const a of v.assertions) {
      assert.equal(await text(page, `.eval-assertions tr[data-assertion="${a.name}"] td[data-variant="${v.name}"]`), rateCell(a), `${v.name} ${a.name}`);
    }
    for (const m of v.metrics) {
      assert.match(await text(page, `.eval-metrics tr[data-metric="${m.name}"] td[data-variant="${v.name}"]`),
        new RegExp(`^${rateCell(m).replace(/[()]/g, '\\$&')} mean score ${m.mean_score.toFixed(3)}$`));
    }
    for (const key of ['latency_p50', 'tokens', 'cost']) assert.notEqual(evalCell(v, key), DASH, `${v.name} has ${key}`);
  }
  assert.equal(r.pairs.length, 1);
  const p = r.pairs[0];
  assert.deepEqual([p.a, p.b, p.only_a_passed, p.only_b_passed], ['full', 'short', 8, 0]);
  const pair = `.eval-pairs tr[data-pair="${p.a}|${p.b}"]`;
  assert.equal(await text(page, `${pair} [data-cell="both"]`), int(p.both_passed));
  assert.equal(await text(page, `${pair} [data-cell="only_a"]`), int(p.only_a_passed));
  assert.equal(await text(page, `${pair} [data-cell="only_b"]`), int(p.only_b_passed));
  assert.equal(await text(page, `${pair} [data-cell="neither"]`), int(p.neither_passed));
  assert.equal(await text(page, `${pair} [data-cell="difference"]`), points(p.difference));
  assert.equal(await text(page, `${pair} [data-cell="difference"]`), '+40.0 pts');
  assert.equal(await text(page, `${pair} [data-cell="p_value"]`), pValue(p.p_value));
  assert.equal(await text(page, `${pair} [data-cell="method"]`), p.method);
  // Failed cases: one row per failed case and variant (4 of full, 12 of short).
  const failed = r.cases.filter((c) => !c.pass);
  assert.equal(failed.length, 16);
  assert.equal((await page.$$('.eval-failures tbody tr')).length, failed.length);
  assert.match(await text(page, '.page-head'), /golden · 20 cases/);
  await screenshots(page, 'evaluation');
  // A run of one variant has no pairs: said in words.
  await page.goto(`${base}/ui/#/evaluations/${runs[1].id}`);
  await page.waitForSelector(`#view[data-page="evaluations/${runs[1].id}"]`, { timeout: WAIT_MS });
  assert.match(await text(page, '#view'), /One variant only: nothing to compare\./);
  assert.match(await text(page, '#view'), /Every case passed\./);
  await done();
});

test('the experiment page lists its latest evaluations with links', async () => {
  const report = await api('experiments/qa');
  assert.deepEqual(report.evaluations.map((e) => e.id).sort(), runs.map((e) => e.id).sort());
  const { page, done } = await open('#/experiments/qa');
  const sec = '#experiment-evaluations';
  assert.deepEqual(await page.$$eval(`${sec} tr[data-evaluation]`, (rs) => rs.map((r) => r.dataset.evaluation)), report.evaluations.map((e) => e.id));
  for (const e of report.evaluations) {
    for (const v of e.variants) {
      assert.equal(await text(page, `${sec} tr[data-evaluation="${e.id}"] li[data-variant="${v.name}"] [data-cell="pass_rate_ci"]`), evalCell(v, 'pass_rate_ci'));
    }
  }
  await page.click(`${sec} tr[data-evaluation="${runs[0].id}"] th a`);
  await page.waitForSelector(`#view[data-page="evaluations/${runs[0].id}"]`, { timeout: WAIT_MS });
  await page.goBack();
  await page.waitForSelector('#view[data-page="experiments/qa"]', { timeout: WAIT_MS });
  await page.click(`${sec} a[href="#/evaluations?experiment=qa"]`);
  await page.waitForFunction(() => document.querySelector('#view h1')?.textContent === 'Evaluations of qa', null, { timeout: WAIT_MS });
  await done();
});

test('a modelab flag: listed as client-side, linked to its flag view with the API numbers', async () => {
  const list = await api('experiments');
  const entry = list.data.find((e) => e.name === FLAG);
  assert.equal(entry.source, 'modelab');
  const flag = await api(`flags/${FLAG}`);
  const { page, done } = await open('#/experiments');
  const row = `tr[data-experiment="${FLAG}"]`;
  assert.equal(await page.getAttribute(row, 'data-source'), 'modelab');
  assert.match(await text(page, `${row} th`), /client-side \(modelab\)/);
  assert.equal(await text(page, `${row} [data-cell="units"]`), int(entry.variants.reduce((n, v) => n + v.units, 0)));
  assert.equal(await text(page, `${row} [data-cell="units"]`), '80');
  assert.match(await text(page, `${row} .health-cell`), /SRM: weights unknown/);
  assert.equal(await page.getAttribute(`${row} th a`, 'href'), `#/flags/${FLAG}`);
  // The gateway's own experiment is still a normal row.
  assert.equal(await page.getAttribute('tr[data-experiment="qa"] th a', 'href'), '#/experiments/qa');
  await page.click(`${row} th a`);
  await page.waitForSelector(`#view[data-page="flags/${FLAG}"]`, { timeout: WAIT_MS });
  const keys = ['executions', 'error_rate', 'success_rate', 'success_count', 'failure_count', 'avg_latency_ms', 'avg_cost',
    'total_cost', 'avg_input_tokens', 'avg_output_tokens', 'custom_events'];
  for (const v of flag.variants) {
    for (const key of keys) {
      assert.equal(await text(page, `tr[data-variant="${v.variant_name}"] [data-cell="${key}"]`), flagCell(v, key), `${v.variant_name} ${key}`);
    }
    assert.notEqual(flagCell(v, 'custom_events'), DASH);
  }
  assert.equal(await text(page, '.verdict-text'), flag.switchyard.verdict.summary);
  assert.equal(await page.getAttribute('.verdict-text', 'data-verdict'), flag.switchyard.verdict.state);
  assert.match(await text(page, '.health-srm'), /No sample ratio test: the designed weights are unknown/);
  // The treatment's always-valid comparison on success rate: the API's p-value.
  const cmp = flag.switchyard.comparisons.find((c) => c.variant === 'concise').success_rate;
  assert.equal(await page.getAttribute('tr[data-variant="concise"] [data-metric="success_rate"] .cmp-p', 'data-p'), String(cmp.p_value));
  assert.match(await text(page, 'tr[data-variant="control"] th'), /\(control\)/);
  assert.equal(await page.getAttribute('a[data-nav="experiments"]', 'aria-current'), 'page');
  await screenshots(page, 'flag');
  await done();
});

test('an unknown flag or run: the API\'s message, no page error', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}/ui/#/flags/nope`);
  await page.waitForSelector('#view .notice-bad[role=alert]', { timeout: WAIT_MS });
  assert.match(await text(page, '#view'), /Flag not found: no assignments were ingested for nope/);
  await page.goto(`${base}/ui/#/evaluations/eval_nope`);
  await page.waitForFunction(() => /No evaluation eval_nope\./.test(document.querySelector('#view')?.textContent), null, { timeout: WAIT_MS });
  assert.deepEqual(errors, []);
  await page.close();
});

// Every number the evaluations and flags API answers replaced by null: dashes, no error, no junk.
function nulled(x) {
  if (typeof x === 'number') return null;
  if (Array.isArray(x)) return x.map(nulled);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, nulled(v)]));
  return x;
}

test('the evaluation and flag pages survive an API that answers null everywhere', async () => {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.route((url) => /^\/api\/v1\/(evaluations|flags|experiments)/.test(url.pathname), async (route) => {
    const res = await route.fetch();
    route.fulfill({ response: res, json: nulled(await res.json()) });
  });
  for (const [hash, pageId] of [['#/evaluations', 'evaluations'], [`#/evaluations/${runs[0].id}`, `evaluations/${runs[0].id}`],
    ['#/experiments/qa', 'experiments/qa'], ['#/experiments', 'experiments'], [`#/flags/${FLAG}`, `flags/${FLAG}`]]) {
    await page.goto(`${base}/ui/${hash}`);
    await page.waitForSelector(`#view[data-page="${pageId}"]:not([aria-busy])`, { timeout: WAIT_MS });
    await assertNoJunk(page, `${hash} with nulls`);
    if (pageId === `evaluations/${runs[0].id}`) {
      assert.equal(await text(page, '.eval-variants tr[data-variant="full"] [data-cell="pass_rate_ci"]'), DASH);
      assert.equal(await text(page, '.eval-pairs [data-cell="p_value"]'), DASH);
      assert.match(await text(page, '.page-head'), /golden · — cases/);
    } else if (pageId === `flags/${FLAG}`) {
      assert.equal(await text(page, 'tr[data-variant="control"] [data-cell="success_rate"]'), DASH);
      assert.equal(await text(page, 'tr[data-variant="control"] [data-cell="custom_events"]'), `copied ${DASH}`);
    }
  }
  assert.deepEqual(errors, []);
  await page.close();
});
