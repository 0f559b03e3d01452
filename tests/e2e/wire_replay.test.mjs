// The wire corpus (tests/fixtures/wire) replayed through a real switchyard process by the
// scriptable upstream of replay_upstream.mjs, read back as raw bytes: every dialect reaches
// the client byte for byte and incrementally (first event before the upstream sent its last),
// with usage and cost metered from the body; what the gateway injected (include_usage) is
// removed for clients that did not ask; framings, 1xx, stray bytes, unknown statuses, gzip,
// Expect and retry cooperation behave as issue 9 says.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

import OpenAI from 'openai';

import { assertNoProblems } from './harness.mjs';
import { assertClose, rawRequest, startLoggedGateway } from './e2e_util.mjs';
import {
  EXPECTED, eventBoundaries, fixtureBytes, fixtureKind, startReplay,
} from './replay_upstream.mjs';
import { parseSse, streamFacts } from './sse.mjs';

const PRICE_IN = 1; // USD per million prompt tokens (see the config)
const PRICE_OUT = 2;

function gatewayConfig(port) {
  return `listen: 127.0.0.1:0
workers: 1
timeouts: { first_byte: 10s, drain: 5s }
retry: { max_attempts: 2, base: 10ms, cap: 50ms }
upstreams:
  - { name: replay, base_url: "http://127.0.0.1:${port}/v1", api_key: sk-upstream,
      breaker: { enabled: false } }
models:
  - { name: replay-chat, upstream: replay,
      price: { input_per_mtok: ${PRICE_IN}, output_per_mtok: ${PRICE_OUT} } }
  - { name: replay-embed, upstream: replay,
      price: { input_per_mtok: ${PRICE_IN}, output_per_mtok: ${PRICE_OUT} } }
log: { level: warn, access: stdout }
`;
}

const STREAMS = Object.keys(EXPECTED).filter((f) => f.endsWith('.sse'));
const BODIES = Object.keys(EXPECTED).filter((f) => f.endsWith('.json') && !/error/.test(f));

/** Path and request body the client sends for a fixture. */
function requestFor(file, { stream, includeUsage } = {}) {
  const kind = /embeddings/.test(file) ? 'embedding' : fixtureKind(file);
  const body = kind === 'embedding'
    ? { model: 'replay-embed', input: ['a', 'b'],
      ...(/base64/.test(file) ? { encoding_format: 'base64' } : {}) }
    : kind === 'completion'
      ? { model: 'replay-chat', prompt: 'Say this is a test' }
      : { model: 'replay-chat', messages: [{ role: 'user', content: 'Hi' }] };
  if (stream) {
    body.stream = true;
    if (includeUsage) body.stream_options = { include_usage: true };
  }
  const path = { embedding: '/embeddings', completion: '/completions',
    chat: '/chat/completions' }[kind];
  return { path, body };
}

const newId = (label) => `wire-${label}-${randomUUID()}`;

describe('wire corpus through the gateway', () => {
  let replay;
  let g;

  before(async () => {
    replay = await startReplay();
    g = await startLoggedGateway(gatewayConfig(replay.port));
  });
  after(async () => {
    const problems = [await g?.stop()];
    await replay?.close();
    assertNoProblems(problems);
  });

  /** Streams `file` through the gateway with the gate on; returns the raw result. */
  async function streamThrough(file, { includeUsage = true, spec = {} } = {}) {
    const id = newId(file);
    replay.set({ body: file, gate: true, ...spec });
    const { path, body } = requestFor(file, { stream: true, includeUsage });
    let released = false;
    const res = await rawRequest(g.baseURL + path, {
      headers: { 'x-request-id': id }, body,
      onEvent: () => {
        if (!released) {
          released = true;
          replay.release();
        }
      },
    });
    replay.release();
    return { id, res, timings: replay.timings() };
  }

  async function assertMetered(id, want) {
    const rec = await g.recordFor(id);
    if (want.prompt_tokens === null) {
      assert.equal(rec.usage_estimated, true,
        `the body has no usage: the record must say it is estimated (${JSON.stringify(rec)})`);
      return;
    }
    assert.equal(rec.prompt_tokens, want.prompt_tokens, `prompt_tokens (${JSON.stringify(rec)})`);
    assert.equal(rec.completion_tokens ?? 0, want.completion_tokens ?? 0, // 0 for embeddings
      `completion_tokens (${JSON.stringify(rec)})`);
    assert.ok(!rec.usage_estimated, `usage was estimated although the body carries it`);
    const cost = (want.prompt_tokens * PRICE_IN + (want.completion_tokens ?? 0) * PRICE_OUT) / 1e6;
    assertClose(rec.cost_usd ?? 0, cost, 1e-6, 'cost_usd');
  }

  describe('streams: byte for byte, incremental, metered', () => {
    for (const file of STREAMS) {
      test(file, async () => {
        const want = EXPECTED[file];
        const { id, res, timings } = await streamThrough(file);
        assert.equal(res.status, 200);
        assert.match(res.headers['content-type'] ?? '', /^text\/event-stream/);
        assert.equal(res.body.toString('latin1'), fixtureBytes(file).toString('latin1'),
          'the client must get the upstream bytes unchanged (it asked for usage itself)');
        assert.ok(res.firstEventAt !== null, 'no event reached the client');
        assert.ok(res.firstEventAt < timings.last,
          `not incremental: the first event reached the client ${
            (res.firstEventAt - timings.first).toFixed(0)} ms after the upstream's first piece, ` +
          'only once the upstream had sent its last');
        if (file.startsWith('groq_')) {
          // Usage only in x_groq.usage: metered from it, or honestly labelled an estimate.
          const rec = await g.recordFor(id);
          assert.ok(rec.usage_estimated === true ||
                    (rec.prompt_tokens === want.prompt_tokens &&
                     rec.completion_tokens === want.completion_tokens), JSON.stringify(rec));
        } else {
          await assertMetered(id, want);
        }
      });
    }
  });

  describe('streams to clients that did not ask for usage', () => {
    for (const [file, split] of STREAMS.flatMap((f) => [[f, 'events'], [f, 'whole']])) {
      test(`${file}, ${split === 'whole' ? 'one write' : 'a write per event'}`, async () => {
        const want = EXPECTED[file];
        const { res } = await streamThrough(file, { includeUsage: false, spec: { split } });
        assert.equal(res.status, 200);
        const sent = replay.requests.at(-1).json;
        assert.equal(sent?.stream_options?.include_usage, true,
          'the gateway asks the upstream for usage');
        const { events: upstreamEvents } = parseSse(fixtureBytes(file));
        const usageOnly = (o) => (!Array.isArray(o.choices) || o.choices.length === 0) &&
          o.usage != null;
        const emptyNoUsage = (evs) => evs.filter((e) => e.data !== '[DONE]')
          .map((e) => JSON.parse(e.data))
          .filter((o) => Array.isArray(o.choices) && o.choices.length === 0 && o.usage == null)
          .length;
        const dropped = upstreamEvents.filter((e) => e.data !== '[DONE]' &&
          usageOnly(JSON.parse(e.data))).length;
        assert.equal(res.events.length, upstreamEvents.length - dropped,
          'every event but the usage-only chunk reaches the client, none is dropped or merged');
        for (const ev of res.events) {
          if (ev.data === '[DONE]') continue;
          const o = JSON.parse(ev.data); // each forwarded event is still valid JSON
          assert.ok(!usageOnly(o), `usage-only chunk leaked to a client that did not ask: ${ev.data}`);
        }
        assert.equal(emptyNoUsage(res.events), emptyNoUsage(upstreamEvents),
          'chunks with empty choices that carry no usage (Azure prompt filter) are forwarded');
        const got = streamFacts(res.events, fixtureKind(file));
        assert.equal(got.text, want.text);
        assert.equal(got.reasoning, want.reasoning);
        assert.deepEqual(got.tool_call_names, want.tool_call_names);
        assert.equal(got.done, want.done);
      });
    }
  });

  describe('non-stream bodies: byte for byte, usage wherever it sits', () => {
    for (const file of BODIES) {
      test(file, async () => {
        const id = newId(file);
        replay.set({ body: file });
        const { path, body } = requestFor(file);
        const res = await rawRequest(g.baseURL + path, { headers: { 'x-request-id': id }, body });
        assert.equal(res.status, 200);
        assert.equal(res.body.toString('latin1'), fixtureBytes(file).toString('latin1'));
        await assertMetered(id, EXPECTED[file]);
      });
    }
  });

  describe('framings and splits', () => {
    const cases = [
      ['chunked', { framing: 'chunked' }],
      ['Content-Length', { framing: 'length' }],
      ['close-delimited', { framing: 'close' }],
      ['HTTP/1.0', { framing: 'http10' }],
      ['Connection: close', { close: true }],
      ['one write', { split: 'whole' }],
      ['random split, seed 1', { split: { random: 1, pieces: 40 } }],
      ['random split, seed 2', { split: { random: 2, pieces: 200 } }],
      ['random split, seed 3', { split: { random: 3, pieces: 7 }, delayMs: 2 }],
    ];
    for (const file of ['openai_chat_stream_usage.sse', 'llamacpppython_chat_stream_crlf.sse',
      'deepseek_chat_stream_reasoning.sse']) {
      for (const [name, spec] of cases) {
        test(`${file}, ${name}`, async () => {
          const { id, res } = await streamThrough(file, { spec: { ...spec, gate: false } });
          assert.equal(res.status, 200);
          assert.equal(res.body.toString('latin1'), fixtureBytes(file).toString('latin1'));
          await assertMetered(id, EXPECTED[file]);
        });
      }
    }
    for (const [name, spec] of cases.slice(0, 5)) {
      test(`openai_chat.json, ${name}`, async () => {
        replay.set({ body: 'openai_chat.json', ...spec });
        const { path, body } = requestFor('openai_chat.json');
        const res = await rawRequest(g.baseURL + path, { body });
        assert.equal(res.status, 200);
        assert.equal(res.body.toString('latin1'), fixtureBytes('openai_chat.json').toString('latin1'));
      });
    }
  });

  describe('gzip sent unasked: decoded for metering, or refused with a clear 502', () => {
    for (const file of ['openai_chat_stream_usage.sse', 'openai_chat.json']) {
      test(file, async () => {
        const id = newId('gzip');
        const stream = file.endsWith('.sse');
        replay.set({ body: file, gzip: true });
        const { path, body } = requestFor(file, { stream, includeUsage: true });
        const res = await rawRequest(g.baseURL + path, { headers: { 'x-request-id': id }, body });
        if (res.status === 502) {
          const err = JSON.parse(res.body.toString('utf8')).error;
          assert.ok(err?.message, 'a 502 in the API error shape');
          return;
        }
        assert.equal(res.status, 200);
        assert.equal(res.body.toString('latin1'), fixtureBytes(file).toString('latin1'),
          'the client gets the decoded body (its own Content-Encoding handling included)');
        await assertMetered(id, EXPECTED[file]);
      });
    }
  });

  describe('interim responses and connection reuse never mix two answers', () => {
    // Each case on its own replay server and gateway: a mix-up must not leak into the next case.
    async function isolated(fn) {
      const r = await startReplay();
      let gw;
      try {
        gw = await startLoggedGateway(gatewayConfig(r.port));
        await fn(r, gw);
      } finally {
        const problems = [await gw?.stop()];
        await r.close();
        assertNoProblems(problems);
      }
    }

    const link = [['link', '</style.css>; rel=preload; as=style']];
    const interims = [['100 Continue', [100]], ['103 Early Hints', [[103, link]]],
      ['100 then 103', [100, [103, link]]]];
    for (const [name, interim] of interims) {
      for (const file of ['openai_chat.json', 'openai_chat_stream_usage.sse']) {
        test(`${name} before ${file}; the next request gets its own answer`, () => isolated(
          async (r, gw) => {
            r.set((req, i) => (i === 0 ? { body: file, interim } : { body: 'llamacpp_chat.json' }));
            const stream = file.endsWith('.sse');
            const first = requestFor(file, { stream, includeUsage: true });
            const a = await rawRequest(gw.baseURL + first.path, { body: first.body });
            assert.equal(a.status, 200, `the 1xx was relayed as the answer (${a.status})`);
            assert.equal(a.body.toString('latin1'), fixtureBytes(file).toString('latin1'));
            const second = requestFor('llamacpp_chat.json');
            const b = await rawRequest(gw.baseURL + second.path, { body: second.body });
            assert.equal(b.status, 200);
            assert.equal(b.body.toString('latin1'),
              fixtureBytes('llamacpp_chat.json').toString('latin1'),
              'the second client got a different request\'s answer');
          }));
      }
    }

    const stale = 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 52\r\n\r\n' +
      '{"choices":[{"message":{"content":"STALE ANSWER"}}]}';
    for (const [name, spec] of [['right after the answer', {}], ['while idle', { afterDelayMs: 30 }]]) {
      test(`bytes after the answer (${name}): the pooled connection is not reused`, () => isolated(
        async (r, gw) => {
          r.set((req, i) => (i === 0 ? { body: 'openai_chat.json', after: stale, ...spec }
            : { body: 'vllm_chat.json' }));
          const afterWritten = r.afterWritten();
          const req = requestFor('openai_chat.json');
          const a = await rawRequest(gw.baseURL + req.path, { body: req.body });
          assert.equal(a.status, 200);
          assert.equal(a.body.toString('latin1'), fixtureBytes('openai_chat.json').toString('latin1'));
          await afterWritten; // the stray bytes are in the gateway's socket before the next request
          const b = await rawRequest(gw.baseURL + req.path, { body: req.body });
          assert.equal(b.status, 200);
          assert.equal(b.body.toString('latin1'), fixtureBytes('vllm_chat.json').toString('latin1'),
            'the next request was answered with the stray bytes of the previous connection');
        }));
    }
  });

  describe('status codes Beast does not name are relayed as sent', () => {
    for (const status of [418, 520, 529, 999]) {
      test(`${status}`, async () => {
        const body = JSON.stringify({ error: { message: `upstream said ${status}`,
          type: 'upstream_error', param: null, code: `e${status}` } });
        replay.set({ status, body });
        const res = await rawRequest(`${g.baseURL}/chat/completions`,
          { body: requestFor('openai_chat.json').body });
        assert.equal(res.status, status);
        assert.equal(res.body.toString('utf8'), body);
      });
    }
  });

  test('Expect: 100-continue is answered by the gateway and not forwarded upstream', async () => {
    replay.set({ body: 'openai_chat.json' });
    const { path, body } = requestFor('openai_chat.json');
    const before = replay.requests.length;
    const res = await rawRequest(g.baseURL + path, { body, expectContinue: true });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString('latin1'), fixtureBytes('openai_chat.json').toString('latin1'));
    const sent = replay.requests.slice(before);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].headers.expect, undefined, 'Expect was forwarded upstream');
  });

  describe('retries', () => {
    test('after the gateway retried, the relayed 503 says x-should-retry: false and the SDK ' +
         'does not multiply the attempts', async () => {
      const error = JSON.stringify({ error: { message: 'overloaded', type: 'server_error',
        param: null, code: null } });
      replay.set({ status: 503, body: error });
      let before = replay.requests.length;
      const res = await rawRequest(`${g.baseURL}/chat/completions`,
        { body: requestFor('openai_chat.json').body });
      assert.equal(res.status, 503);
      assert.equal(replay.requests.length - before, 2, 'max_attempts 2 upstream requests');
      assert.equal(res.headers['x-should-retry'], 'false');

      before = replay.requests.length;
      const client = new OpenAI({ baseURL: g.baseURL, apiKey: 'sk-client', maxRetries: 2,
        timeout: 10_000 });
      await assert.rejects(client.chat.completions.create(requestFor('openai_chat.json').body),
        (e) => e instanceof OpenAI.InternalServerError);
      assert.equal(replay.requests.length - before, 2,
        'gateway × SDK attempts must stay within the gateway\'s max_attempts');
    });

    for (const file of ['openai_chat_stream_usage.sse', 'llamacpppython_chat_stream.sse']) {
      test(`${file} cut after content is not replayed to the upstream`, async () => {
        const before = replay.requests.length;
        replay.set({ body: file, cutAfter: 4 });
        const { path, body } = requestFor(file, { stream: true, includeUsage: true });
        const res = await rawRequest(g.baseURL + path, { body }).catch((e) => ({ error: e }));
        assert.equal(replay.requests.length - before, 1,
          'content had been produced: a retry would bill a second generation');
        if (!res.error) {
          const text = streamFacts(res.events.filter((e) => {
            try {
              return e.data === '[DONE]' || !JSON.parse(e.data).error;
            } catch {
              return false;
            }
          })).text;
          assert.ok(EXPECTED[file].text.startsWith(text) && text.length > 0,
            `the client got the content produced before the cut (${JSON.stringify(text)})`);
        }
      });
    }
  });
});

// The per-upstream and retry switches of issue 9, each on its own gateway.
describe('switches: inject_stream_usage and retry.client_may_retry', () => {
  let replay;
  before(async () => {
    replay = await startReplay();
  });
  after(async () => {
    await replay?.close();
  });

  async function withGateway(yaml, fn) {
    const gw = await startLoggedGateway(yaml);
    try {
      await fn(gw);
    } finally {
      assertNoProblems([await gw.stop()]);
    }
  }

  test('inject_stream_usage: false — a strict upstream that rejects stream_options (older ' +
       'Azure api-versions) streams; usage is estimated and labelled so', async () => {
    const yaml = gatewayConfig(replay.port).replace('breaker: { enabled: false } }',
      'breaker: { enabled: false }, inject_stream_usage: false }');
    await withGateway(yaml, async (gw) => {
      const strict = JSON.stringify({ error: { message: 'Unrecognized request argument ' +
        'supplied: stream_options', type: 'invalid_request_error', param: null, code: null } });
      replay.set((req) => (req.json?.stream_options ? { status: 400, body: strict }
        : { body: 'llamacpppython_chat_stream.sse' }));
      const id = newId('strict');
      const { path, body } = requestFor('llamacpppython_chat_stream.sse', { stream: true });
      const res = await rawRequest(gw.baseURL + path, { headers: { 'x-request-id': id }, body });
      assert.equal(res.status, 200, res.body.toString().slice(0, 300));
      assert.equal(replay.requests.at(-1).json.stream_options, undefined,
        'stream_options was injected although inject_stream_usage is false');
      assert.equal(res.body.toString('latin1'),
        fixtureBytes('llamacpppython_chat_stream.sse').toString('latin1'));
      const rec = await gw.recordFor(id);
      assert.equal(rec.usage_estimated, true, JSON.stringify(rec));
    });
  });

  test('retry.client_may_retry: true — the old behaviour, no x-should-retry: false', async () => {
    const yaml = gatewayConfig(replay.port).replace('retry: { max_attempts: 2,',
      'retry: { client_may_retry: true, max_attempts: 2,');
    await withGateway(yaml, async (gw) => {
      replay.set({ status: 503, body: '{"error":{"message":"overloaded","type":"server_error"}}' });
      const res = await rawRequest(`${gw.baseURL}/chat/completions`,
        { body: requestFor('openai_chat.json').body });
      assert.equal(res.status, 503);
      assert.notEqual(res.headers['x-should-retry'], 'false');
    });
  });
});

describe('the stream hold runs on a timer', () => {
  test('a role chunk then silence: released or retried at stream_hold_time, not at the next ' +
       'byte', async () => {
    const replay = await startReplay();
    const gw = await startLoggedGateway(gatewayConfig(replay.port).replace(
      'retry: { max_attempts: 2,', 'retry: { stream_hold_time: 300ms, max_attempts: 2,'));
    try {
      const file = 'openai_chat_stream_usage.sse';
      const cut = eventBoundaries(fixtureBytes(file))[0]; // the role chunk alone, then silence
      replay.set({ body: file, split: [cut], gate: true });
      const start = performance.now();
      let reactedAt = null;
      let sawEvent;
      const firstEvent = new Promise((resolve) => {
        sawEvent = resolve;
      });
      const { path, body } = requestFor(file, { stream: true, includeUsage: true });
      const pending = rawRequest(gw.baseURL + path, { body,
        onEvent: () => sawEvent(true) });
      // Whichever comes first: the role chunk released to the client, or a retried attempt.
      const reacted = await Promise.race([firstEvent, replay.waitRequests(2, 1_000)]);
      if (reacted) reactedAt = performance.now();
      replay.release();
      await pending;
      assert.ok(reactedAt !== null && reactedAt - start < 1_000,
        `nothing happened within 1 s of a 300 ms stream_hold_time (the upstream was silent ` +
        `after its role chunk)`);
    } finally {
      const problems = [await gw.stop()];
      await replay.close();
      assertNoProblems(problems);
    }
  });
});
