// The dashboard in a real browser: Debian's chromium driven by playwright-core, against a real
// gateway with mock-llm upstream and seeded traffic and feedback.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { startGateway, startMock, stopChild, stopGateway, assertNoProblems } from '../e2e/harness.mjs';
import { variantCell } from '../../ui/www/fmt.js';

const ADMIN = 'ui-test-admin-token';
const SHOTS = process.env.UI_SCREENSHOTS || path.resolve('screenshots');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
let mock, gw, browser, base;

const config = (port) => `
listen: 127.0.0.1:0
workers: 1
admin_token: ${ADMIN}
data_dir: ./data
log: { level: warn }
upstreams: [ { name: mock, type: openai, base_url: http://127.0.0.1:${port}/v1, api_key: k } ]
models: [ { name: gpt-4o-mini, upstream: mock, price: { input_per_mtok: 0.15, output_per_mtok: 0.6 } } ]
prompts:
  - name: assistant
    versions:
      - { version: v1, template: "You are helpful." }
      - { version: v2, template: "You are concise.\\nAnswer briefly." }
experiments:
  - name: tone
    match: { model: assistant }
    unit: header:x-user-id
    variants:
      - { name: control, weight: 0.5, prompt: assistant@v1, model: gpt-4o-mini }
      - { name: concise, weight: 0.5, prompt: assistant@v2, model: gpt-4o-mini }
    analysis: { primary_metric: feedback_success, minimum_detectable_effect: 0.1 }
  - name: five
    match: { model: five }
    unit: header:x-user-id
    variants:
      - { name: a, weight: 0.2, model: gpt-4o-mini }
      - { name: b, weight: 0.2, model: gpt-4o-mini }
      - { name: c, weight: 0.2, model: gpt-4o-mini }
      - { name: d, weight: 0.2, model: gpt-4o-mini }
      - { name: e, weight: 0.2, model: gpt-4o-mini }
`;

async function chat(model, user) {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user-id': user },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.text();
  return res.headers.get('x-switchyard-feedback-id') || res.headers.get('x-request-id');
}

before(async () => {
  mock = await startMock();
  gw = await startGateway(config(mock.port));
  base = `http://127.0.0.1:${gw.port}`;
  for (let i = 0; i < 40; i++) {
    const id = await chat('assistant', `u${i}`);
    if (i % 2 === 0) {
      await fetch(`${base}/v1/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ request_id: id, event: i % 4 ? 'success' : 'failure' }) });
    }
  }
  for (let i = 0; i < 10; i++) await chat('five', `f${i}`);
  fs.mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  assertNoProblems([await stopGateway(gw), await stopChild(mock?.child)]);
});

async function open(hash) {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}/ui/${hash}`);
  await page.waitForSelector('#view[data-ready]', { timeout: 15000 });
  return { page, errors };
}

test('static files: ETag, 304, CSP, nosniff, 404 in the API shape', async () => {
  const r = await fetch(`${base}/ui`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /text\/html/);
  assert.match(r.headers.get('content-security-policy'), /default-src 'self'/);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  const etag = r.headers.get('etag');
  assert.ok(etag);
  const again = await fetch(`${base}/ui/`, { headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304);
  const missing = await fetch(`${base}/ui/nope.js`);
  assert.equal(missing.status, 404);
  assert.ok((await missing.json()).error.message);
});

test('the list shows the experiments', async () => {
  const { page, errors } = await open('#/experiments');
  await page.waitForSelector('tr[data-experiment="tone"]');
  assert.ok(await page.$('tr[data-experiment="five"]'));
  await page.screenshot({ path: path.join(SHOTS, 'experiments.png'), fullPage: true });
  assert.deepEqual(errors.filter((e) => !/status of 404/.test(e)), []); // /series, /alerts: H4's API, until merged
  await page.close();
});

test('the experiment page shows the API numbers, the verdict and a chart', async () => {
  const api = await (await fetch(`${base}/api/v1/experiments/tone`)).json();
  const { page, errors } = await open('#/experiments/tone');
  for (const v of api.variants) {
    for (const key of ['units', 'requests', 'error_rate', 'latency_p50', 'latency_p95', 'ttft_p50', 'cost', 'feedback_rate', 'score']) {
      const text = await page.textContent(`tr[data-variant="${v.name}"] [data-cell="${key}"]`);
      assert.equal(text, variantCell(v, key), `${v.name} ${key}`);
    }
  }
  assert.equal(await page.textContent('.verdict-text'), api.verdict.summary);
  const fig = await page.$('figure.chart');
  assert.ok(fig, 'a chart');
  assert.ok(Number(await fig.getAttribute('data-points')) > 0);
  assert.ok(await page.$('figure.chart canvas'), 'uPlot drew a canvas');
  assert.ok(!(await page.textContent('#view')).includes('NaN'));
  await page.screenshot({ path: path.join(SHOTS, 'experiment.png'), fullPage: true });
  assert.deepEqual(errors.filter((e) => !/status of 404/.test(e)), []); // /series, /alerts: H4's API, until merged
  await page.close();
});

test('a 5-variant experiment renders every variant', async () => {
  const { page, errors } = await open('#/experiments/five');
  assert.equal((await page.$$('tr[data-variant]')).length, 5);
  assert.ok(!(await page.textContent('#view')).includes('NaN'));
  await page.screenshot({ path: path.join(SHOTS, 'experiment-5-variants.png'), fullPage: true });
  assert.deepEqual(errors.filter((e) => !/status of 404/.test(e)), []); // /series, /alerts: H4's API, until merged
  await page.close();
});

test('pause is refused without the token and works with it', async () => {
  const { page } = await open('#/experiments/tone');
  await page.click('#btn-pause');
  await page.click('dialog[open] button[type=submit]');
  await page.waitForSelector('#control-result [role=alert]');
  assert.match(await page.textContent('#control-result'), /Refused \(401\)/);
  let r = await (await fetch(`${base}/api/v1/experiments/tone`)).json();
  assert.equal(r.status, 'running');
  await page.click('#token-btn');
  await page.fill('#token-input', ADMIN);
  await page.click('#token-save');
  await page.waitForSelector('#btn-pause:not([disabled])');
  await page.click('#btn-pause');
  await page.click('dialog[open] button[type=submit]');
  await page.waitForFunction(() => document.querySelector('.chips')?.textContent.includes('paused'), null, { timeout: 10000 });
  r = await (await fetch(`${base}/api/v1/experiments/tone`)).json();
  assert.equal(r.status, 'paused');
  await page.close();
});

test('prompts, alerts and traffic pages load without console errors', async () => {
  for (const [hash, shot] of [['#/prompts', 'prompts'], ['#/prompts/assistant?a=v1&b=v2', 'prompt-diff'], ['#/alerts', 'alerts'], ['#/traffic', 'traffic']]) {
    const { page, errors } = await open(hash);
    assert.ok(!(await page.textContent('#view')).includes('NaN'), hash);
    await page.screenshot({ path: path.join(SHOTS, `${shot}.png`), fullPage: true });
    assert.deepEqual(errors.filter((e) => !/404/.test(e)), [], hash);
    await page.close();
  }
});
