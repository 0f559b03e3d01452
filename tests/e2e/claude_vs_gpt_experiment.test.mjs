// One experiment, two providers: its control is an OpenAI model on an OpenAI-compatible chat
// upstream (the wire corpus' replay server), its treatment a Claude model on a `type: anthropic`
// upstream (tests/support/fake_anthropic.mjs) that the gateway reaches by translating chat
// completions to Messages. Clients use the official `openai` SDK (chat.completions, stream and
// not) with the experiment's model name. Both variants must answer in OpenAI's shape with the
// experiment's tags and a feedback id; the treatment's prompt version must arrive as Anthropic's
// `system`; feedback is accepted for both; the analysis API shows both variants with requests,
// tokens and cost; /metrics has per-variant series for both.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import OpenAI from 'openai';

import { assertNoProblems } from './harness.mjs';
import { startLoggedGateway } from './e2e_util.mjs';
import { EXPECTED, startReplay } from './replay_upstream.mjs';
import { anthropicFixture, startFakeAnthropic } from '../support/fake_anthropic.mjs';

const EXPERIMENT = 'gpt_vs_claude';
const GPT_PRICE = { in: 1, out: 2 };
const CLAUDE_PRICE = { in: 3, out: 15 };
const PROMPT_V1 = 'You are a helpful assistant.';
const PROMPT_V2 = 'You are a concise assistant.';

function config(dataDir, replayPort, anthropicPort) {
  return `listen: 127.0.0.1:0
workers: 1
data_dir: ${dataDir}
admin_token: test-admin
feedback: { signing_key: "0123456789abcdef0123456789abcdef" }
stats_flush: 100ms
timeouts: { first_byte: 10s, drain: 5s }
retry: { max_attempts: 2, base: 10ms, cap: 50ms }
upstreams:
  - { name: openai, base_url: "http://127.0.0.1:${replayPort}/v1", api_key: sk-openai,
      breaker: { enabled: false } }
  - { name: anthropic, type: anthropic, base_url: "http://127.0.0.1:${anthropicPort}/v1",
      api_key: sk-ant-upstream, breaker: { enabled: false } }
models:
  - { name: gpt-4o-mini, upstream: openai,
      price: { input_per_mtok: ${GPT_PRICE.in}, output_per_mtok: ${GPT_PRICE.out} } }
  - { name: claude-sonnet-4-5, upstream: anthropic,
      price: { input_per_mtok: ${CLAUDE_PRICE.in}, output_per_mtok: ${CLAUDE_PRICE.out} } }
prompts:
  - name: assistant
    versions:
      - { version: v1, template: "${PROMPT_V1}" }
      - { version: v2, template: "${PROMPT_V2}" }
experiments:
  - name: ${EXPERIMENT}
    match: { model: assistant }
    unit: header:x-user-id
    variants:
      - { name: control, weight: 0.5, prompt: assistant@v1, model: gpt-4o-mini }
      - { name: treatment, weight: 0.5, prompt: assistant@v2, model: claude-sonnet-4-5 }
log: { level: warn, access: stdout }
`;
}

const CLAUDE_TEXT = JSON.parse(anthropicFixture('docs_message_text.json')).content[0].text;
const CLAUDE_STREAM_TEXT = 'Hello there!'; // sdk_stream_basic.sse

describe('an experiment with an OpenAI control and a Claude treatment', () => {
  let replay;
  let anthropic;
  let g;
  let dataDir;
  let client;
  const seen = { control: [], treatment: [] }; // per variant: { stream, text, usage, headers }

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-exp-'));
    replay = await startReplay();
    // The OpenAI upstream answers the corpus' OpenAI chat fixtures, streamed or not.
    replay.set((req) => ({ body: req.json?.stream ? 'openai_chat_stream_usage.sse'
      : 'openai_chat.json' }));
    anthropic = await startFakeAnthropic({ apiKey: 'sk-ant-upstream' });
    g = await startLoggedGateway(config(dataDir, replay.port, anthropic.port));
    client = new OpenAI({ baseURL: g.baseURL, apiKey: 'sk-client', maxRetries: 0, timeout: 15_000 });
  });
  after(async () => {
    const problems = [await g?.stop()];
    await replay?.close();
    await anthropic?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    assertNoProblems(problems);
  });

  async function call(user, stream) {
    const params = { model: 'assistant', messages: [{ role: 'user', content: 'Hi' }] };
    const headers = { 'x-user-id': user };
    if (!stream) {
      const { data, response } = await client.chat.completions.create(params, { headers })
        .withResponse();
      return { stream, headers: response.headers, object: data.object,
        text: data.choices[0].message.content, finish: data.choices[0].finish_reason,
        usage: data.usage };
    }
    const { data, response } = await client.chat.completions.create({ ...params, stream: true,
      stream_options: { include_usage: true } }, { headers }).withResponse();
    let text = '';
    let usage = null;
    let finish = null;
    const objects = new Set();
    for await (const chunk of data) {
      objects.add(chunk.object);
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    return { stream, headers: response.headers, object: [...objects].join(','), text, finish,
      usage };
  }

  test('both variants answer in OpenAI\'s shape with the experiment\'s tags', async () => {
    // Users until each variant has answered both a plain and a streamed request (bounded).
    for (let u = 0; u < 64; u++) {
      const done = ['control', 'treatment'].every((v) => seen[v].some((s) => s.stream) &&
        seen[v].some((s) => !s.stream));
      if (done) break;
      for (const stream of [false, true]) {
        const r = await call(`user-${u}`, stream);
        const variant = r.headers.get('x-switchyard-variant');
        assert.ok(variant === 'control' || variant === 'treatment', `variant ${variant}`);
        assert.equal(r.headers.get('x-switchyard-experiment'), EXPERIMENT);
        assert.ok(r.headers.get('x-switchyard-feedback-id'), 'a feedback id');
        assert.equal(r.headers.get('x-switchyard-prompt-version'),
          variant === 'control' ? 'assistant@v1' : 'assistant@v2');
        seen[variant].push(r);
      }
    }
    for (const v of ['control', 'treatment']) {
      assert.ok(seen[v].some((s) => s.stream) && seen[v].some((s) => !s.stream),
        `64 users gave no ${v} stream and non-stream request`);
    }
    for (const r of seen.control) {
      const file = r.stream ? 'openai_chat_stream_usage.sse' : 'openai_chat.json';
      assert.equal(r.object, r.stream ? 'chat.completion.chunk' : 'chat.completion');
      assert.equal(r.text, EXPECTED[file].text);
      assert.equal(r.usage.prompt_tokens, EXPECTED[file].prompt_tokens);
    }
    for (const r of seen.treatment) {
      assert.equal(r.object, r.stream ? 'chat.completion.chunk' : 'chat.completion');
      assert.equal(r.text, r.stream ? CLAUDE_STREAM_TEXT : CLAUDE_TEXT);
      assert.equal(r.finish, 'stop');
      assert.ok(r.usage?.prompt_tokens > 0 && r.usage?.completion_tokens > 0,
        `usage from Anthropic's counts: ${JSON.stringify(r.usage)}`);
    }
    // What each upstream received: the variant's model and prompt version.
    const gpt = replay.requests.at(-1).json;
    assert.equal(gpt.model, 'gpt-4o-mini');
    assert.deepEqual(gpt.messages[0], { role: 'system', content: PROMPT_V1 });
    const claude = JSON.parse(anthropic.requests.at(-1).body);
    assert.equal(claude.model, 'claude-sonnet-4-5');
    const system = typeof claude.system === 'string' ? claude.system
      : claude.system.map((b) => b.text).join('');
    assert.equal(system, PROMPT_V2);
    assert.ok(Number.isInteger(claude.max_tokens), 'max_tokens is required by Anthropic');
    assert.equal(anthropic.requests.at(-1).path, '/v1/messages');
  });

  test('feedback is accepted for both variants', async () => {
    for (const v of ['control', 'treatment']) {
      const id = seen[v][0].headers.get('x-switchyard-feedback-id');
      const res = await fetch(`${g.root}/v1/feedback`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ request_id: id, event: 'success' }),
      });
      assert.equal(res.status, 200, `${v}: ${await res.text()}`);
    }
  });

  test('the analysis shows both variants with requests, tokens and cost', async () => {
    const want = { control: seen.control.length, treatment: seen.treatment.length };
    let report;
    // Statistics reach the store every stats_flush (100 ms): poll, bounded.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const res = await fetch(`${g.root}/api/v1/experiments/${EXPERIMENT}`);
      assert.equal(res.status, 200);
      report = await res.json();
      const byName = Object.fromEntries(report.variants.map((v) => [v.name, v]));
      if (byName.control?.requests === want.control &&
          byName.treatment?.requests === want.treatment) break;
      assert.ok(Date.now() < deadline, `requests never reached ${JSON.stringify(want)}: ${
        JSON.stringify(report.variants.map((v) => [v.name, v.requests]))}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const byName = Object.fromEntries(report.variants.map((v) => [v.name, v]));
    const sum = (rs, f) => rs.reduce((n, r) => n + f(r), 0);
    for (const [v, price] of [['control', GPT_PRICE], ['treatment', CLAUDE_PRICE]]) {
      const got = byName[v];
      const prompt = sum(seen[v], (r) => r.usage.prompt_tokens);
      const completion = sum(seen[v], (r) => r.usage.completion_tokens);
      const cost = (prompt * price.in + completion * price.out) / 1e6;
      const text = JSON.stringify(got);
      assert.equal(got.model, v === 'control' ? 'gpt-4o-mini' : 'claude-sonnet-4-5');
      assert.equal(got.input_tokens?.total, prompt, `${v}: input tokens: ${text}`);
      assert.equal(got.output_tokens?.total, completion, `${v}: output tokens: ${text}`);
      assert.ok(Math.abs(got.cost_usd.total - cost) <= 1e-9 + cost * 1e-6,
        `${v}: cost ${got.cost_usd.total} vs ${cost}: ${text}`);
      assert.equal(got.errors, 0, text);
    }
  });

  test('/metrics has per-variant series for both', async () => {
    const text = await (await fetch(`${g.root}/metrics`)).text();
    for (const v of ['control', 'treatment']) {
      for (const metric of ['switchyard_requests_total', 'switchyard_tokens_total',
        'switchyard_cost_usd_total']) {
        const line = text.split('\n').find((l) => l.startsWith(metric) &&
          l.includes(`experiment="${EXPERIMENT}"`) && l.includes(`variant="${v}"`));
        assert.ok(line, `${metric} for ${v}`);
        assert.ok(Number(line.split(' ').at(-1)) > 0, line);
      }
    }
    const claude = text.split('\n').find((l) => l.startsWith('switchyard_requests_total') &&
      l.includes('variant="treatment"'));
    assert.match(claude, /upstream="anthropic"/);
    assert.match(claude, /model="claude-sonnet-4-5"/);
  });
});
