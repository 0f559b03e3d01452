// The official Anthropic SDK (@anthropic-ai/sdk) through the gateway's Messages ingress
// (/v1/messages and /v1/messages/count_tokens, passed through to a `type: anthropic` upstream)
// against the same calls made directly to that upstream, the fake Anthropic API of
// tests/support/fake_anthropic.mjs (fixtures from Anthropic's docs and SDK sources). What the SDK
// reports must be the same on both sides: messages, stream events and the accumulated message,
// thinking blocks with their signatures (byte for byte), token counts, usage with cache reads and
// writes, and errors (the SDK's error classes, statuses, Anthropic's error types). The gateway's
// own refusals on this path are in Anthropic's shape; a 529 overloaded is retried by the gateway.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import Anthropic from '@anthropic-ai/sdk';

import { assertNoProblems } from './harness.mjs';
import { startLoggedGateway } from './e2e_util.mjs';
import { errorFacts, outcome } from './clients.mjs';
import { anthropicFixture, startFakeAnthropic } from '../support/fake_anthropic.mjs';

const UPSTREAM_KEY = 'sk-ant-upstream';
const PRICE_IN = 3; // USD per million tokens (see the config)
const PRICE_OUT = 15;

/**
 * A Messages upstream that answers 529 overloaded to every odd request and the docs' text
 * message to every even one: a retry that succeeds.
 */
async function startFlaky() {
  let n = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      n += 1;
      if (n % 2 === 1) {
        res.writeHead(529, { 'content-type': 'application/json', 'x-should-retry': 'true' });
        res.end(anthropicFixture('sdk_error_529_overloaded.json'));
      } else {
        res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_flaky_${n}` });
        res.end(anthropicFixture('docs_message_text.json'));
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    count: () => n,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    }),
  };
}

function config(fakePort, flakyPort) {
  const price = `price: { input_per_mtok: ${PRICE_IN}, output_per_mtok: ${PRICE_OUT} }`;
  return `listen: 127.0.0.1:0
workers: 1
timeouts: { first_byte: 10s, drain: 5s }
retry: { max_attempts: 3, base: 10ms, cap: 50ms }
upstreams:
  - { name: anthropic, type: anthropic, base_url: "http://127.0.0.1:${fakePort}/v1",
      api_key: ${UPSTREAM_KEY}, breaker: { enabled: false } }
  - { name: flaky, type: anthropic, base_url: "http://127.0.0.1:${flakyPort}/v1",
      api_key: ${UPSTREAM_KEY}, breaker: { enabled: false } }
models:
  - { name: claude-sonnet-4-5, upstream: anthropic, ${price} }
  - { name: overloaded, upstream: anthropic, ${price} }
  - { name: rate-limited, upstream: anthropic, ${price} }
  - { name: mid-stream-error, upstream: anthropic, ${price} }
  - { name: cut-3, upstream: anthropic, ${price} }
  - { name: flaky-claude, upstream: flaky, ${price} }
log: { level: warn, access: stdout }
`;
}

const MODEL = 'claude-sonnet-4-5';
const hello = { model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'Hello' }] };
const weather = {
  name: 'get_weather',
  description: 'Get the weather at a location',
  input_schema: { type: 'object', properties: { location: { type: 'string' } },
    required: ['location'] },
};
const thinking = { ...hello, max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 } };

describe('@anthropic-ai/sdk: direct to the fake and through the gateway agree', () => {
  let fake;
  let flaky;
  let g;
  let direct;
  let via;

  before(async () => {
    fake = await startFakeAnthropic({ apiKey: UPSTREAM_KEY });
    flaky = await startFlaky();
    g = await startLoggedGateway(config(fake.port, flaky.port));
    // maxRetries 0: the gateway's retries are under test, not the SDK's.
    direct = new Anthropic({ baseURL: fake.baseURL, apiKey: UPSTREAM_KEY, maxRetries: 0,
      timeout: 15_000 });
    via = new Anthropic({ baseURL: g.root, apiKey: 'sk-client', maxRetries: 0, timeout: 15_000 });
  });
  after(async () => {
    const problems = [await g?.stop()];
    await fake?.close();
    await flaky?.close();
    assertNoProblems(problems);
  });

  /** Runs `call(client)` on both sides: { direct, gateway } outcomes. */
  async function both(call) {
    return { direct: await outcome(() => call(direct)), gateway: await outcome(() => call(via)) };
  }

  function assertSame(sides, label) {
    assert.ok(sides.direct.ok, `${label}: direct failed: ${JSON.stringify(sides.direct)}`);
    assert.deepEqual(sides.gateway, sides.direct, `${label}: the gateway changed what the SDK reports`);
  }

  /** The last request the fake saw. */
  const lastUpstream = () => fake.requests.at(-1);

  describe('messages.create', () => {
    test('text: the same message; Anthropic headers forwarded, the key replaced', async () => {
      const sides = await both((c) => c.messages.create(hello, {
        headers: { 'anthropic-beta': 'prompt-caching-2024-07-31' } }));
      assertSame(sides, 'text');
      assert.deepEqual(sides.gateway.value, JSON.parse(anthropicFixture('docs_message_text.json')));
      const [fromDirect, sent] = fake.requests.slice(-2);
      assert.equal(sent.path, '/v1/messages');
      assert.equal(sent.headers['x-api-key'], UPSTREAM_KEY, 'the upstream key, not the client\'s');
      // The SDK's own anthropic-version (its body is written for it), not the configured default.
      assert.equal(sent.headers['anthropic-version'], fromDirect.headers['anthropic-version']);
      assert.equal(sent.headers['anthropic-beta'], 'prompt-caching-2024-07-31');
      assert.deepEqual(JSON.parse(sent.body), hello);
    });

    test('thinking and redacted_thinking blocks reach the client byte for byte', async () => {
      const raw = {};
      for (const [side, c] of [['direct', direct], ['gateway', via]]) {
        const res = await c.messages.create(thinking).asResponse();
        assert.equal(res.status, 200, side);
        raw[side] = await res.text();
      }
      assert.equal(raw.gateway, raw.direct);
      assert.equal(raw.gateway, anthropicFixture('docs_message_thinking.json').toString('utf8'));
      const m = await via.messages.create(thinking);
      assert.deepEqual(m.content.map((b) => b.type), ['thinking', 'redacted_thinking', 'text']);
      assert.ok(m.content[0].signature.length > 0);
    });

    test('tool use', async () => {
      const sides = await both((c) => c.messages.create({ ...hello, tools: [weather] }));
      assertSame(sides, 'tool use');
      const tool = sides.gateway.value.content.find((b) => b.type === 'tool_use');
      assert.ok(tool, JSON.stringify(sides.gateway.value.content));
      assert.equal(sides.gateway.value.stop_reason, 'tool_use');
    });

    test('a client\'s thinking blocks and cache_control markers reach the upstream as sent',
      async () => {
        const block = JSON.parse(anthropicFixture('docs_message_thinking.json')).content;
        const body = { ...thinking, system: [{ type: 'text', text: 'Be brief.',
          cache_control: { type: 'ephemeral' } }],
        messages: [{ role: 'user', content: 'Hello' }, { role: 'assistant', content: block },
          { role: 'user', content: [{ type: 'text', text: 'Again', cache_control:
            { type: 'ephemeral', ttl: '5m' } }] }] };
        await direct.messages.create(body);
        const directBody = lastUpstream().body;
        await via.messages.create(body);
        assert.equal(lastUpstream().body, directBody,
          'the request body the upstream gets is the one the SDK sent');
      });
  });

  describe('messages.stream', () => {
    /** Streams on one side: every event, the text, and the SDK's accumulated message. */
    async function streamed(c, params) {
      const stream = c.messages.stream(params);
      const events = [];
      let text = '';
      stream.on('text', (t) => {
        text += t;
      });
      for await (const ev of stream) events.push(ev);
      return { events, text, final: await stream.finalMessage() };
    }

    test('text: same events, same message; the raw stream byte for byte', async () => {
      const sides = await both((c) => streamed(c, hello));
      assertSame(sides, 'text stream');
      assert.equal(sides.gateway.value.final.content[0].text, sides.gateway.value.text);
      const res = await via.messages.create({ ...hello, stream: true }).asResponse();
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
      assert.equal(await res.text(), anthropicFixture('sdk_stream_basic.sse').toString('utf8'));
    });

    test('tool use: input_json_delta accumulated into the same input', async () => {
      const sides = await both((c) => streamed(c, { ...hello, tools: [weather] }));
      assertSame(sides, 'tool stream');
      const tool = sides.gateway.value.final.content.find((b) => b.type === 'tool_use');
      assert.ok(tool && typeof tool.input === 'object', JSON.stringify(sides.gateway.value.final));
    });

    test('thinking: the signature_delta reaches the client unchanged', async () => {
      const sides = await both((c) => streamed(c, thinking));
      assertSame(sides, 'thinking stream');
      const block = sides.gateway.value.final.content.find((b) => b.type === 'thinking');
      const fixtureSignature = anthropicFixture('sdk_stream_thinking_refusal.sse').toString('utf8')
        .match(/"signature_delta","signature":"([^"]+)"/)[1];
      assert.equal(block.signature, fixtureSignature);
      assert.equal(sides.gateway.value.final.stop_reason, 'refusal');
      const raw = await via.messages.create({ ...thinking, stream: true }).asResponse();
      assert.equal(await raw.text(),
        anthropicFixture('sdk_stream_thinking_refusal.sse').toString('utf8'));
    });

    test('usage with cache reads and writes: the same on both sides, metered by the gateway',
      async () => {
        // docs_message_thinking.json reads 1000 tokens from the cache and writes 30.
        const sides = await both(async (c) => (await c.messages.create(thinking)).usage);
        assertSame(sides, 'usage');
        assert.equal(sides.gateway.value.cache_read_input_tokens, 1000);
        assert.equal(sides.gateway.value.cache_creation_input_tokens, 30);
        for (const stream of [false, true]) {
          const id = `anthropic-usage-${stream}-${Date.now()}`;
          const opts = { headers: { 'x-request-id': id } };
          const final = stream ? await via.messages.stream(thinking, opts).finalMessage()
            : await via.messages.create(thinking, opts);
          const rec = await g.recordFor(id);
          const u = final.usage;
          const cacheRead = u.cache_read_input_tokens ?? 0;
          const cacheWrite = u.cache_creation_input_tokens ?? 0;
          assert.equal(rec.completion_tokens, u.output_tokens, JSON.stringify(rec));
          // Anthropic's input_tokens excludes cache reads and writes; the gateway counts all three.
          assert.equal(rec.prompt_tokens, u.input_tokens + cacheRead + cacheWrite,
            JSON.stringify(rec));
          assert.ok(!rec.usage_estimated, JSON.stringify(rec));
          assert.ok(rec.cost_usd > 0, JSON.stringify(rec));
        }
      });

    test('an error event mid-stream is raised the same way', async () => {
      const sides = await both((c) => streamed(c, { ...hello, model: 'mid-stream-error' }));
      assert.equal(sides.direct.ok, false, 'direct: expected an error (setup)');
      assert.deepEqual(sides.gateway, sides.direct);
    });

    test('a stream cut before message_stop fails on both sides, not a silent end', async () => {
      const sides = await both((c) => streamed(c, { ...hello, model: 'cut-3' }));
      assert.equal(sides.direct.ok, false, `direct: ${JSON.stringify(sides.direct)}`);
      assert.equal(sides.gateway.ok, false,
        `through the gateway a cut stream must end in an error: ${JSON.stringify(sides.gateway)}`);
    });
  });

  test('countTokens: the upstream\'s count, relayed', async () => {
    const params = { model: MODEL, system: 'Be brief.', messages: hello.messages,
      tools: [weather] };
    const sides = await both((c) => c.messages.countTokens(params));
    assertSame(sides, 'count_tokens');
    assert.ok(Number.isInteger(sides.gateway.value.input_tokens));
    assert.equal(lastUpstream().path, '/v1/messages/count_tokens');
    assert.equal(lastUpstream().headers['x-api-key'], UPSTREAM_KEY);
  });

  describe('errors', () => {
    test('400 invalid_request_error: BadRequestError with Anthropic\'s type', async () => {
      const sides = await both((c) => c.messages.create({ model: MODEL,
        messages: hello.messages }));
      for (const side of ['direct', 'gateway']) {
        assert.equal(sides[side].ok, false, side);
        assert.equal(sides[side].error.name, 'BadRequestError', JSON.stringify(sides[side]));
        assert.equal(sides[side].error.status, 400);
      }
      const e = await via.messages.create({ model: MODEL, messages: hello.messages })
        .catch((err) => err);
      assert.equal(e.error?.type, 'error', JSON.stringify(e.error));
      assert.equal(e.error?.error?.type, 'invalid_request_error', JSON.stringify(e.error));
    });

    test('404 for a model the gateway does not know, in Anthropic\'s shape', async () => {
      const e = await via.messages.create({ ...hello, model: 'claude-unknown' }).catch((err) => err);
      assert.ok(e instanceof Anthropic.NotFoundError, `${e?.constructor?.name}: ${e?.message}`);
      assert.equal(e.status, 404);
      assert.equal(e.error?.type, 'error', JSON.stringify(e.error));
      assert.equal(e.error?.error?.type, 'not_found_error', JSON.stringify(e.error));
      assert.match(e.error?.error?.message ?? '', /claude-unknown/);
      const s = await outcome(async () => {
        for await (const _ of via.messages.stream({ ...hello, model: 'claude-unknown' }));
      });
      assert.equal(s.error?.name, 'NotFoundError', JSON.stringify(s));
    });

    test('429 with retry-after: RateLimitError, the header reaches the client', async () => {
      const errs = {};
      for (const [side, c] of [['direct', direct], ['gateway', via]]) {
        errs[side] = await c.messages.create({ ...hello, model: 'rate-limited' }).catch((e) => e);
        assert.ok(errs[side] instanceof Anthropic.RateLimitError,
          `${side}: ${errs[side]?.constructor?.name}: ${errs[side]?.message}`);
      }
      assert.deepEqual(errorFacts(errs.gateway), errorFacts(errs.direct));
      assert.equal(errs.gateway.error?.error?.type, 'rate_limit_error');
      assert.ok(errs.gateway.headers.get('retry-after'), 'retry-after reaches the client');
    });

    test('529 overloaded: retried by the gateway; once it succeeds the client sees a message',
      async () => {
        const before = flaky.count();
        const m = await via.messages.create({ ...hello, model: 'flaky-claude' });
        assert.equal(m.type, 'message');
        assert.equal(flaky.count() - before, 2, 'one 529, then the retry');
      });

    test('529 overloaded on every attempt: OverloadedError, Anthropic\'s type', async () => {
      const before = fake.requests.length;
      const sides = await both((c) => c.messages.create({ ...hello, model: 'overloaded' }));
      assert.equal(sides.direct.error?.name, 'OverloadedError', JSON.stringify(sides.direct));
      assert.equal(sides.gateway.error?.name, 'OverloadedError', JSON.stringify(sides.gateway));
      assert.equal(sides.gateway.error.status, 529);
      assert.ok(fake.requests.length - before >= 3, 'the gateway retried the 529');
    });
  });
});
