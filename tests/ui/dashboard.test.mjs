// The dashboard in a real browser: Debian's chromium driven by playwright-core, against a real
// gateway with mock-llm upstream and seeded traffic and feedback. Every assertion is about what a
// user sees (texts, colours, focus), checked against the JSON API the page reads.
//
// The experiments, each with one job (node's runner runs the tests in file order):
//   tone  — 2 variants with feedback: the numbers, the verdict, charts; set weights (last).
//   five  — 5 variants, no feedback, no streams: the API's nulls are dashes.
//   probe — a balanced 2-variant split; pause/resume from the UI (mouse, keyboard, no token).
//   skew  — the same seed as probe, fed only units probe put in `a` (plus a few of `b`): a
//           deliberate sample ratio mismatch, its red banner and its always-on SRM alert, which
//           is acknowledged, then resolves when skew is concluded with a winner from the UI.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { startGateway, startMock, stopChild, stopGateway, assertNoProblems } from '../e2e/harness.mjs';
import { DASH, variantCell } from '../../ui/www/fmt.js';

const ADMIN = 'ui-test-admin-token';
const SHOTS = process.env.UI_SCREENSHOTS || path.resolve('screenshots');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const WAIT_MS = 15000; // every wait for the page or the API is bounded by this
let mock, gw, browser, base;

const config = (port) => `
listen: 127.0.0.1:0
workers: 1
admin_token: ${ADMIN}
data_dir: ./data
log: { level: warn }
alerts: { evaluation_interval: 1s }
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
  - name: probe
    match: { model: probe }
    unit: header:x-user-id
    seed: same-split
    variants:
      - { name: a, weight: 0.5, model: gpt-4o-mini }
      - { name: b, weight: 0.5, model: gpt-4o-mini }
  - name: skew
    match: { model: skew }
    unit: header:x-user-id
    seed: same-split
    variants:
      - { name: a, weight: 0.5, model: gpt-4o-mini }
      - { name: b, weight: 0.5, model: gpt-4o-mini }
`;

async function chat(model, user, { stream = false } = {}) {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user-id': user },
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.text();
  assert.equal(res.status, 200, `${model} for ${user}`);
  return { id: res.headers.get('x-switchyard-feedback-id'), variant: res.headers.get('x-switchyard-variant') };
}

const api = async (p) => {
  const r = await fetch(`${base}/api/v1/${p}`);
  assert.equal(r.status, 200, p);
  return r.json();
};

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

before(async () => {
  mock = await startMock();
  gw = await startGateway(config(mock.port));
  base = `http://127.0.0.1:${gw.port}`;
  for (let i = 0; i < 40; i++) {
    const { id } = await chat('assistant', `u${i}`, { stream: i % 5 === 0 });
    if (i % 2 === 0) {
      const r = await fetch(`${base}/v1/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ request_id: id, event: i % 4 ? 'success' : 'failure' }) });
      assert.ok(r.ok, `feedback ${r.status}`);
    }
  }
  for (let i = 0; i < 10; i++) await chat('five', `f${i}`);
  // probe and skew hash units alike (same seed, same weights): skew gets every unit probe put
  // in `a` and only 3 of those it put in `b` — about 30 against 3, an SRM p-value far below 0.001.
  let bs = 0;
  for (let i = 0; i < 60; i++) {
    const { variant } = await chat('probe', `p${i}`);
    if (variant === 'a' || bs++ < 3) {
      const got = await chat('skew', `p${i}`);
      assert.equal(got.variant, variant, 'skew splits like probe');
    }
  }
  fs.mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  assertNoProblems([await stopGateway(gw), await stopChild(mock?.child)]);
});

/**
 * Opens a page in a fresh context (its own sessionStorage: no token) and waits for the route to
 * render. `errors` collects console errors and uncaught exceptions; `done()` asserts there were
 * none (but those matching `allowed`) and closes the page.
 */
async function open(hash, { colorScheme = 'light' } = {}) {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, colorScheme });
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${m.text()} ${m.location()?.url ?? ''}`); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}/ui/${hash}`);
  await ready(page);
  const done = async (allowed = null) => {
    assert.deepEqual(errors.filter((e) => !(allowed && allowed.test(e))), [], `console errors on ${hash}`);
    await page.close();
  };
  return { page, errors, done };
}

/** Waits until the view rendered (again: after `previous`, the data-ready ticket before). */
async function ready(page, previous = null) {
  await page.waitForFunction((prev) => {
    const r = document.querySelector('#view')?.dataset.ready;
    return r && r !== prev && !document.querySelector('#view').hasAttribute('aria-busy');
  }, previous, { timeout: WAIT_MS });
}

const ticket = (page) => page.$eval('#view', (v) => v.dataset.ready);

/** What a user must never read: a formatter that let a missing value through. */
async function assertNoJunk(page, where) {
  const text = await page.innerText('#view'); // laid out: cells apart, not run together
  const junk = /\b(NaN|undefined|null|Infinity)\b|\[object /.exec(text);
  assert.equal(junk, null, `${where} shows "${junk?.[0]}"`);
}

/** The page's controls (Chromium's accessibility tree) that have no accessible name. */
async function unnamedControls(page) {
  const cdp = await page.context().newCDPSession(page);
  const { nodes } = await cdp.send('Accessibility.getFullAXTree');
  const roles = new Set(['button', 'link', 'textbox', 'spinbutton', 'combobox', 'listbox', 'checkbox',
    'radio', 'slider', 'searchbox', 'switch', 'tab', 'menuitem']);
  const bad = [];
  for (const n of nodes) {
    if (n.ignored || !roles.has(n.role?.value) || String(n.name?.value ?? '').trim()) continue;
    const { node } = await cdp.send('DOM.describeNode', { backendNodeId: n.backendDOMNodeId });
    bad.push(`${n.role.value} <${node.localName} ${(node.attributes || []).join(' ')}>`);
  }
  await cdp.detach();
  return bad;
}

/** Background luminance of the body (0 black … 1 white). */
const bodyLuminance = (page) => page.evaluate(() => {
  const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
});

/**
 * Saves `name.png` (light) and `name-dark.png` (dark, through prefers-color-scheme: the page
 * draws itself again) and checks the page really turned dark; leaves the page light.
 */
async function screenshots(page, name) {
  assert.ok(await bodyLuminance(page) > 0.8, `${name}: light background`);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  let before = await ticket(page);
  await page.emulateMedia({ colorScheme: 'dark' });
  await ready(page, before);
  assert.ok(await bodyLuminance(page) < 0.2, `${name}: dark background`);
  await assertNoJunk(page, `${name} (dark)`);
  await page.screenshot({ path: path.join(SHOTS, `${name}-dark.png`), fullPage: true });
  before = await ticket(page);
  await page.emulateMedia({ colorScheme: 'light' });
  await ready(page, before);
}

/** Types the admin token in the dialog (top right) and waits for the page to render again. */
async function enterToken(page, value) {
  const before = await ticket(page);
  await page.click('#token-btn');
  await page.fill('#token-input', value);
  await page.click('#token-save');
  await ready(page, before);
}

/** Clicks `selector`, checks the confirmation dialog's title and text, and answers it. */
async function confirmVia(page, selector, { title, text, answer = 'confirm' }) {
  await page.click(selector);
  const d = await page.waitForSelector('dialog[open]', { timeout: WAIT_MS });
  assert.match(await d.$eval('h2', (h) => h.textContent), title);
  assert.match(await d.$eval('.dialog-body', (b) => b.textContent), text);
  if (answer === 'confirm') await d.$eval('button[type=submit]', (b) => b.click());
  else await d.$eval('button[value=cancel]', (b) => b.click());
  await page.waitForSelector('dialog[open]', { state: 'detached', timeout: WAIT_MS });
}

// A refused call is logged by Chromium as a failed resource load: the only console error the
// refusal tests expect.
const REFUSED = /status of 401 \(Unauthorized\)/;

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

test('the list shows every experiment with its status, units, verdict and SRM health', async () => {
  const list = await api('experiments');
  const { page, done } = await open('#/experiments');
  assert.deepEqual(await page.$$eval('tr[data-experiment]', (rs) => rs.map((r) => r.dataset.experiment)),
    list.data.map((e) => e.name));
  for (const e of list.data) {
    const row = `tr[data-experiment="${e.name}"]`;
    assert.equal(await page.textContent(`${row} [data-cell="units"]`),
      variantCell({ units: e.variants.reduce((n, v) => n + v.units, 0) }, 'units'), `${e.name} units`);
    assert.match(await page.textContent(`${row} td:nth-child(2)`), new RegExp(e.status));
    for (const v of e.variants) assert.match(await page.textContent(`${row} td:nth-child(3)`), new RegExp(`\\b${v.name}\\b`));
  }
  assert.equal(await page.$eval('tr[data-experiment="skew"] .health-cell .chip', (c) => c.className), 'chip chip-bad');
  assert.match(await page.textContent('tr[data-experiment="skew"] .health-cell'), /SRM p < 0\.001/);
  assert.match(await page.textContent('tr[data-experiment="probe"] .health-cell'), /split OK/);
  // The name links to the experiment page.
  await page.click('tr[data-experiment="tone"] a');
  await page.waitForSelector('#view[data-page="experiments/tone"]', { timeout: WAIT_MS });
  await page.goBack();
  await page.waitForSelector('#view[data-page="experiments"]', { timeout: WAIT_MS });
  await assertNoJunk(page, 'the list');
  await screenshots(page, 'experiments');
  assert.deepEqual(await unnamedControls(page), []);
  await done();
});

test('the experiment page shows the API numbers per variant, the verdict and charts with data', async () => {
  const report = await api('experiments/tone');
  const { page, done } = await open('#/experiments/tone');
  const keys = ['units', 'requests', 'error_rate', 'latency_p50', 'latency_p95', 'ttft_p50', 'ttft_p95', 'tokens', 'cost', 'feedback_rate', 'score'];
  for (const v of report.variants) {
    for (const key of keys) {
      const text = await page.textContent(`tr[data-variant="${v.name}"] [data-cell="${key}"]`);
      assert.equal(text, variantCell(v, key), `${v.name} ${key}`);
    }
  }
  // Seeded: 20 of each 40 requests got feedback, some streamed (so TTFT exists); numbers, not dashes.
  const total = report.variants.reduce((n, v) => n + v.requests, 0);
  assert.equal(total, 40);
  for (const key of ['requests', 'latency_p50', 'cost', 'feedback_rate', 'ttft_p50']) {
    assert.ok(report.variants.some((v) => variantCell(v, key) !== DASH), `some variant has ${key}`);
  }
  // The treatment's comparison with control: the p-value the API computed.
  const cmp = report.variants[1].vs_control?.success_rate;
  if (cmp) {
    assert.equal(await page.getAttribute('tr[data-variant="concise"] [data-metric="feedback_rate"] .cmp-p', 'data-p'), String(cmp.p_value ?? ''));
  }
  // The verdict in words, and its chip.
  assert.ok(report.verdict.summary.length > 20, 'a sentence');
  assert.equal(await page.textContent('.verdict-text'), report.verdict.summary);
  assert.equal(await page.getAttribute('.verdict-text', 'data-verdict'), report.verdict.state);
  assert.equal(await page.getAttribute('header.page-head .chips .chip:nth-child(2)', 'title'), report.verdict.summary);
  // Charts: uPlot drew them from non-empty series (the request counts of the API's series).
  const series = await api('experiments/tone/series');
  assert.ok(series.buckets.length > 0);
  for (const id of ['chart-lift', 'chart-traffic', 'chart-latency']) {
    assert.ok(Number(await page.getAttribute(`#${id}`, 'data-points')) > 0, `${id} has points`);
    assert.ok(await page.$(`#${id} canvas`), `${id}: uPlot drew a canvas`);
  }
  const traffic = await page.$eval('#chart-traffic', (f) => f.uplot.data.map((s) => [...s]));
  assert.equal(traffic[0].length, series.buckets.length, 'one x per bucket');
  const drawn = traffic.slice(1, 1 + report.variants.length).flat().reduce((a, b) => a + (b ?? 0), 0);
  assert.equal(drawn, total, 'the traffic chart adds up to the requests');
  // The health banner: the split is fine, feedback coverage is 20 of 40.
  assert.equal(await page.getAttribute('section.health', 'data-tone'), 'good');
  assert.equal(await page.textContent('[data-health="coverage"] .health-value'), '50.0%');
  // Each treatment's prompt links to its diff against control's.
  assert.equal(await page.getAttribute('tr[data-variant="concise"] .sub a', 'href'), '#/prompts/assistant?a=v1&b=v2');
  await assertNoJunk(page, 'tone');
  await screenshots(page, 'experiment');
  assert.deepEqual(await unnamedControls(page), []);
  await done();
});

test('a skewed split shows a red SRM banner with its p-value', async () => {
  const report = await api('experiments/skew');
  assert.ok(report.srm.p_value < 0.001, `seeded SRM: p = ${report.srm.p_value}`);
  const { page, done } = await open('#/experiments/skew');
  const banner = await page.$('section.health');
  assert.equal(await banner.getAttribute('data-tone'), 'bad');
  assert.equal(await banner.getAttribute('role'), 'alert', 'announced to screen readers');
  assert.equal(await page.textContent('.health-srm'), `Sample ratio mismatch: p = ${report.srm.p_value.toExponential(1)}, below 0.001. ` +
    'The split is not what the weights say; the results cannot be trusted until the cause is found.');
  assert.equal(await page.textContent('[data-health="srm"] .health-value'), 'p < 0.001');
  // Red: the banner is painted with the palette's "bad" colours.
  const colours = await page.evaluate(() => {
    const s = getComputedStyle(document.querySelector('section.health'));
    const probe = document.createElement('div');
    probe.style.background = 'var(--bad-bg)';
    probe.style.color = 'var(--bad-fg)';
    document.body.append(probe);
    const p = getComputedStyle(probe);
    const out = { bg: s.backgroundColor, fg: s.color, badBg: p.backgroundColor, badFg: p.color };
    probe.remove();
    return out;
  });
  assert.equal(colours.bg, colours.badBg);
  assert.equal(colours.fg, colours.badFg);
  const [r, g, b] = colours.bg.match(/\d+/g).map(Number);
  assert.ok(r > g && r > b, `reddish background ${colours.bg}`);
  assert.equal(await page.getAttribute('.verdict-text', 'data-verdict'), report.verdict.state);
  await screenshots(page, 'experiment-srm');
  await done();
});

test('a 5-variant experiment without feedback or streams: every variant, dashes for the nulls', async () => {
  const report = await api('experiments/five');
  assert.equal(report.variants.length, 5);
  const { page, done } = await open('#/experiments/five');
  assert.deepEqual(await page.$$eval('tr[data-variant]', (rs) => rs.map((r) => r.dataset.variant)), ['a', 'b', 'c', 'd', 'e']);
  for (const v of report.variants) {
    // No feedback yet and no streams: the API says null, the page says "—".
    assert.equal(v.ttft_ms?.p50 ?? null, null);
    assert.equal(v.feedback?.success_rate ?? null, null);
    for (const key of ['ttft_p50', 'ttft_p95', 'feedback_rate', 'score']) {
      assert.equal(await page.textContent(`tr[data-variant="${v.name}"] [data-cell="${key}"]`), DASH, `${v.name} ${key}`);
    }
    for (const key of ['units', 'requests', 'latency_p50', 'cost']) {
      assert.equal(await page.textContent(`tr[data-variant="${v.name}"] [data-cell="${key}"]`), variantCell(v, key), `${v.name} ${key}`);
    }
  }
  assert.equal(await page.$$eval('#w-a, #w-b, #w-c, #w-d, #w-e', (is) => is.map((i) => i.value).join()), '20,20,20,20,20');
  assert.equal(await page.$$eval('#winner option', (os) => os.length), 5);
  // Every variant has its own series in the traffic chart.
  const labels = await page.$eval('#chart-traffic', (f) => f.uplot.series.map((s) => s.label));
  for (const n of ['a', 'b', 'c', 'd', 'e']) assert.ok(labels.includes(`${n} requests`), n);
  await assertNoJunk(page, 'five');
  await screenshots(page, 'experiment-5-variants');
  await done();
});

// Every number of the report and its series replaced by null (and every interval by nulls):
// what a gateway with no data at all, or an older gateway, might answer.
function nulled(x) {
  if (typeof x === 'number') return null;
  if (Array.isArray(x)) return x.map(nulled);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, nulled(v)]));
  return x;
}

test('the experiment and list pages survive an API that answers null everywhere', async () => {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.route((url) => url.pathname.startsWith('/api/v1/experiments'), async (route) => {
    const res = await route.fetch();
    const j = await res.json();
    // The summary list keeps its names (the page needs them to ask for each report).
    route.fulfill({ response: res, json: nulled(j) });
  });
  for (const hash of ['#/experiments/tone', '#/experiments/five', '#/experiments']) {
    const before = await page.evaluate(() => document.querySelector('#view')?.dataset.ready ?? null).catch(() => null);
    await page.goto(`${base}/ui/${hash}`);
    await ready(page, before);
    assert.equal(await page.$('#view .notice-bad[role=alert]'), null, `${hash}: no error box`);
    await assertNoJunk(page, `${hash} with nulls`);
  }
  await page.goto(`${base}/ui/#/experiments/tone`);
  await ready(page);
  for (const key of ['units', 'requests', 'error_rate', 'latency_p50', 'ttft_p50', 'cost', 'feedback_rate', 'score']) {
    assert.equal(await page.textContent(`tr[data-variant="control"] [data-cell="${key}"]`), DASH, key);
  }
  assert.equal(await page.textContent('[data-health="srm"] .health-value'), DASH);
  assert.match(await page.textContent('.health-srm'), /No sample ratio test yet/);
  assert.equal(await page.$eval('#chart-traffic', (f) => f.dataset.points), '0');
  await page.screenshot({ path: path.join(SHOTS, 'experiment-nulls.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('pause from the UI: refused without a token or with a wrong one, done with the admin token', async () => {
  const { page, done } = await open('#/experiments/probe');
  const pauseText = /Every request for this experiment will get control \(a\) until it is resumed/;
  await confirmVia(page, '#btn-pause', { title: /^Pause probe\?$/, text: pauseText });
  await page.waitForSelector('#control-result [role=alert]', { timeout: WAIT_MS });
  assert.match(await page.textContent('#control-result'), /Refused \(401\): .*Enter the admin token \(top right\)\./);
  assert.equal((await api('experiments/probe')).status, 'running');
  await enterToken(page, 'not-the-token');
  assert.match(await page.textContent('#token-btn'), /✓/);
  await confirmVia(page, '#btn-pause', { title: /^Pause probe\?$/, text: pauseText });
  await page.waitForSelector('#control-result [role=alert]', { timeout: WAIT_MS });
  assert.match(await page.textContent('#control-result'), /Refused \(401\)/);
  assert.equal((await api('experiments/probe')).status, 'running');
  // Cancel changes nothing.
  await enterToken(page, ADMIN);
  await confirmVia(page, '#btn-pause', { title: /^Pause probe\?$/, text: pauseText, answer: 'cancel' });
  assert.equal((await api('experiments/probe')).status, 'running');
  let before = await ticket(page);
  await confirmVia(page, '#btn-pause', { title: /^Pause probe\?$/, text: pauseText });
  await ready(page, before);
  assert.equal((await api('experiments/probe')).status, 'paused');
  assert.match(await page.textContent('header.page-head .chips'), /paused/);
  assert.match(await page.textContent('#flash'), /probe: pause done\./);
  assert.ok(await page.$('#btn-pause[disabled]'), 'pause is off while paused');
  before = await ticket(page);
  await confirmVia(page, '#btn-resume', { title: /^Resume probe\?$/, text: /Requests will be split by the weights again \(a 50%, b 50%\)/ });
  await ready(page, before);
  assert.equal((await api('experiments/probe')).status, 'running');
  assert.match(await page.textContent('header.page-head .chips'), /running/);
  await done(REFUSED);
});

test('keyboard: Tab reaches the token and the controls, Enter operates them, Esc cancels', async () => {
  const { page, done } = await open('#/experiments/probe');
  const focused = () => page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName);
  const tabTo = async (id, key = 'Tab') => {
    for (let i = 0; i < 200; i++) {
      if (await focused() === id) return;
      await page.keyboard.press(key);
    }
    throw new Error(`${key} never reached #${id}`);
  };
  // The skip link, first in the order, shows itself when focused and jumps to the content.
  await tabTo('skip', 'Shift+Tab');
  const box = await page.$eval('#skip', (a) => a.getBoundingClientRect().toJSON());
  assert.ok(box.left >= 0 && box.top >= 0, `the focused skip link is on screen: ${JSON.stringify(box)}`);
  await page.keyboard.press('Enter');
  assert.equal(await focused(), 'view');
  await tabTo('token-btn', 'Shift+Tab');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#token-dialog[open]', { timeout: WAIT_MS });
  assert.equal(await focused(), 'token-input', 'focus moves into the dialog');
  let before = await ticket(page);
  await page.keyboard.type(ADMIN);
  await page.keyboard.press('Enter');
  await ready(page, before);
  await tabTo('btn-pause');
  await page.keyboard.press('Enter');
  await page.waitForSelector('dialog[open] .dialog-body', { timeout: WAIT_MS });
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Cancel', 'the safe answer has focus');
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog[open]', { state: 'detached', timeout: WAIT_MS });
  assert.equal((await api('experiments/probe')).status, 'running', 'Esc cancelled');
  await tabTo('btn-pause');
  await page.keyboard.press('Enter');
  await page.waitForSelector('dialog[open] .dialog-body', { timeout: WAIT_MS });
  before = await ticket(page);
  await page.keyboard.press('Tab'); // Cancel → Pause
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Pause');
  await page.keyboard.press('Enter');
  await ready(page, before);
  assert.equal((await api('experiments/probe')).status, 'paused');
  // The nav links work by keyboard too.
  await tabTo('skip', 'Shift+Tab');
  for (let i = 0; i < 20 && (await page.evaluate(() => document.activeElement?.dataset?.nav)) !== 'alerts'; i++) await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#view[data-page="alerts"]', { timeout: WAIT_MS });
  // Back to running for the tests after this one.
  const r = await fetch(`${base}/api/v1/experiments/probe`, { method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: '{"action":"resume"}' });
  assert.equal(r.status, 200);
  await done();
});

test('an SRM alert: acknowledged from the UI it leaves the active list; concluded, it is history', async () => {
  const srmAlert = () => api('alerts?state=all').then((l) => l.data.find((a) => a.kind === 'srm' && a.scope?.experiment === 'skew'));
  const alert = await until(async () => (await srmAlert())?.state === 'firing' && srmAlert(), 'the SRM alert of skew');
  const { page, done } = await open('#/alerts');
  const row = `#active-alerts tr[data-alert="${alert.id}"]`;
  await page.waitForSelector(row, { timeout: WAIT_MS });
  assert.match(await page.textContent(row), /skew/);
  assert.match(await page.textContent(`${row} .chip`), /critical/);
  assert.match(await page.textContent('#alert-badge'), /^[1-9]/);
  // Without the token: refused, visibly, and still active.
  await page.click(`${row} button[data-ack]`);
  await page.waitForSelector('#alert-result [role=alert]', { timeout: WAIT_MS });
  assert.match(await page.textContent('#alert-result'), /Refused \(401\)/);
  assert.equal((await srmAlert()).state, 'firing');
  await enterToken(page, ADMIN);
  const before = await ticket(page);
  await page.click(`${row} button[data-ack]`);
  await ready(page, before);
  assert.equal(await page.$(row), null, 'gone from the active list');
  await page.waitForSelector(`#acked-alerts tr[data-alert="${alert.id}"]`, { timeout: WAIT_MS });
  assert.match(await page.textContent(`#acked-alerts tr[data-alert="${alert.id}"]`), /acknowledged \d{4}-/);
  const acked = await srmAlert();
  assert.equal(acked.state, 'acknowledged');
  assert.ok(acked.acknowledged_at > 0);
  await screenshots(page, 'alerts');
  assert.deepEqual(await unnamedControls(page), []);

  // Conclude skew with b from its page; the API agrees, and the SRM alert resolves.
  await page.goto(`${base}/ui/#/experiments/skew`);
  await page.waitForSelector('#view[data-page="experiments/skew"]', { timeout: WAIT_MS });
  await page.selectOption('#winner', 'b');
  const t = await ticket(page);
  await confirmVia(page, '#btn-conclude', { title: /^Conclude skew with b\?$/,
    text: /^Every request for this experiment will get b \(no prompt, gpt-4o-mini\)\. The experiment stops splitting traffic; resume undoes this\.$/ });
  await ready(page, t);
  const concluded = await api('experiments/skew');
  assert.equal(concluded.status, 'concluded');
  assert.equal(concluded.winner, 'b');
  assert.match(await page.textContent('header.page-head'), /concluded.*winner: b/s);
  assert.equal((await chat('skew', 'someone-new')).variant, 'b', 'traffic goes to the winner');
  await until(async () => (await srmAlert()).state === 'resolved', 'the SRM alert to resolve');
  await page.goto(`${base}/ui/#/alerts`);
  await page.waitForSelector(`#alert-history tr[data-alert="${alert.id}"]`, { timeout: WAIT_MS });
  const hist = await page.textContent(`#alert-history tr[data-alert="${alert.id}"]`);
  assert.match(hist, /resolved \d{4}-/);
  assert.match(hist, /acknowledged \d{4}-/);
  assert.equal(await page.$(`#active-alerts tr[data-alert="${alert.id}"]`), null);
  await done(REFUSED);
});

test('set weights from the UI: the dialog says the split, the API has the new weights', async () => {
  const { page, done } = await open('#/experiments/tone');
  await enterToken(page, ADMIN);
  await page.fill('#w-control', '70');
  await page.fill('#w-concise', '30');
  const before = await ticket(page);
  await confirmVia(page, '#btn-weights', { title: /^Set the weights of tone\?$/,
    text: /^New units will be split control 70%, concise 30%\. A new phase starts now/ });
  await ready(page, before);
  const r = await api('experiments/tone');
  assert.deepEqual(r.variants.map((v) => v.weight), [0.7, 0.3]);
  assert.equal(r.phase.phase, 2);
  assert.equal(await page.$eval('#w-control', (i) => i.value), '70');
  assert.match(await page.textContent('#view'), /control 70%/);
  // Nonsense weights never reach the API.
  await page.fill('#w-control', '0');
  await page.fill('#w-concise', '0');
  await page.click('#btn-weights');
  assert.match(await page.textContent('#control-result [role=alert]'), /Weights must be numbers ≥ 0, not all 0\./);
  assert.equal(await page.$('dialog[open]'), null);
  await done();
});

test('prompts, a prompt diff and traffic: no console errors, no junk, named controls', async () => {
  const prompts = await api('prompts');
  for (const [hash, shot] of [['#/prompts', 'prompts'], ['#/prompts/assistant?a=v1&b=v2', 'prompt-diff'], ['#/traffic', 'traffic']]) {
    const { page, done } = await open(hash);
    await assertNoJunk(page, hash);
    if (shot === 'prompts') {
      for (const p of prompts.data) {
        for (const v of p.versions) {
          assert.equal(await page.textContent(`[data-prompt="${p.name}"] tr[data-version="${v.version}"] [data-cell="calls"]`),
            variantCell({ requests: v.calls }, 'requests'), `${p.name}@${v.version} calls`);
        }
      }
    } else if (shot === 'prompt-diff') {
      const text = await page.textContent('#view');
      assert.match(text, /You are helpful\./);
      assert.match(text, /Answer briefly\./);
    } else {
      const t = await api('traffic?hours=3');
      assert.equal(await page.$eval('#chart-requests', (f) => f.uplot.data.slice(1).flat().reduce((a, b) => a + (b ?? 0), 0)),
        t.models.reduce((n, m) => n + m.totals.requests, 0), 'the requests chart adds up');
    }
    await screenshots(page, shot);
    assert.deepEqual(await unnamedControls(page), [], hash);
    await done();
  }
});
