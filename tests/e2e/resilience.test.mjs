// End-to-end resilience tests: how the official `openai` SDK's own retries interplay with the
// gateway's retries, fallbacks, circuit breakers and rate limits. One mock-llm serves the whole
// file; each group starts its own switchyard with the config it needs (see harness.mjs).
//
// Faults are injected with mock-llm's `x-mock-fault` header, which the gateway forwards. With
// `times=K` only the first K tries carrying the same `x-request-id` fail, so every request here
// sends its own id (the gateway keeps it on its retries, and the SDK on its own).
//
// Requests are counted at the gateway through its JSON access log on stdout (one line per
// request the gateway received, `request_id` included). Log lines are batched per worker, so a
// count is only final once a later request's line has been seen on the same worker: groups that
// count run one worker and finish with a marker request (`syncAccessLog`).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import OpenAI from 'openai';

import {
  assertNoProblems, collect, expectError, startGateway, startMock, stopChild, stopGateway,
} from './harness.mjs';

const MESSAGES = [
  { role: 'system', content: 'You are a test.' },
  { role: 'user', content: 'Say something deterministic.' },
];
const UPSTREAM_MODEL = 'mock-model';
const LOG_WAIT_MS = 5_000; // bound on waiting for an access-log line (they are batched ~50 ms)

// ---------------------------------------------------------------------------------------------
// Helpers

/** A request id unique to this run (the mock counts `times=K` faults per id). */
function newId(label) {
  return `e2e-${label}-${randomUUID()}`;
}

/** SDK request options: our own x-request-id, plus an x-mock-fault when given. */
function opts(id, fault, extra = {}) {
  const headers = { 'x-request-id': id };
  if (fault) headers['x-mock-fault'] = fault;
  return { ...extra, headers };
}

function chatText(chunks) {
  return chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
}

function ms(x) {
  return `${x.toFixed(0)} ms`;
}

/**
 * Starts a gateway for the enclosing describe() (in before(), stopped in after()) from
 * `configOf(mockPort)`. The returned object is filled in before(): `.baseURL`, `.records` (every
 * access-log line parsed so far), `.client(options)`, `.waitForRecord(pred)`, `.recordsFor(id)`.
 */
function useGateway(getMock, configOf) {
  const g = {
    gateway: null,
    baseURL: null,
    records: [],
    waiters: new Set(),
    client(options = {}) {
      return new OpenAI({
        baseURL: g.baseURL, apiKey: 'sk-client', maxRetries: 0, timeout: 20_000, ...options,
      });
    },
    recordsFor(id) {
      return g.records.filter((r) => r.request_id === id);
    },
    /** Resolves with the first access record satisfying `pred` (seen already or later). */
    waitForRecord(pred, timeoutMs = LOG_WAIT_MS) {
      const found = g.records.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = {
          pred,
          resolve: (r) => {
            clearTimeout(timer);
            g.waiters.delete(waiter);
            resolve(r);
          },
        };
        const timer = setTimeout(() => {
          g.waiters.delete(waiter);
          reject(new Error(`no access-log line matched within ${timeoutMs} ms; output:\n` +
                           g.gateway.child.tail()));
        }, timeoutMs);
        g.waiters.add(waiter);
      });
    },
  };
  const onLine = (streamName, line) => {
    if (streamName !== 'stdout' || !line.startsWith('{')) return;
    let record;
    try {
      record = JSON.parse(line);
    } catch {
      return;
    }
    g.records.push(record);
    for (const w of [...g.waiters]) if (w.pred(record)) w.resolve(record);
  };
  before(async () => {
    g.gateway = await startGateway(configOf(getMock().port), { onLine });
    g.baseURL = g.gateway.baseURL;
  });
  after(async () => {
    assertNoProblems([await stopGateway(g.gateway)]);
  });
  return g;
}

/**
 * Makes every access-log line of requests that have already been answered visible: sends a
 * marker request and waits for its line. Only sound with `workers: 1` (one batch, in order).
 */
async function syncAccessLog(g, client) {
  const marker = newId('marker');
  const res = await client.chat.completions.create(
    { model: 'gpt-4o-mini', messages: MESSAGES, max_tokens: 8 }, opts(marker));
  assert.ok(res.choices[0].message.content.length > 0, 'marker request failed');
  await g.waitForRecord((r) => r.request_id === marker);
}

function upstreamBlock(mockPort, extra = '') {
  return `  - { name: mock, base_url: "http://127.0.0.1:${mockPort}/v1", api_key: sk-upstream${extra} }`;
}

// ---------------------------------------------------------------------------------------------
// The suite

describe('openai SDK retries × switchyard resilience', () => {
  let mock;
  const getMock = () => mock;

  before(async () => {
    mock = await startMock();
  });

  after(async () => {
    assertNoProblems([await stopChild(mock?.child)]);
  });

  // ----- 1, 2: the gateway's own retries are invisible to the SDK -----

  describe('gateway retries', () => {
    const g = useGateway(getMock, (port) => `listen: 127.0.0.1:0
workers: 2
timeouts: { first_byte: 10s, drain: 5s, drain_grace: 0s }
retry: { max_attempts: 3, base: 10ms, cap: 50ms, max_retry_after: 5s }
upstreams:
${upstreamBlock(port)}
models:
  - { name: gpt-4o-mini, upstream: mock, model: ${UPSTREAM_MODEL} }
log: { level: warn, access: stdout }
`);

    test('upstream 503 twice: the SDK (maxRetries 0) gets 200, x-switchyard-attempts 3',
      async () => {
        const client = g.client({ maxRetries: 0 });
        const id = newId('503x2');
        const t0 = performance.now();
        const { data, response } = await client.chat.completions
          .create({ model: 'gpt-4o-mini', messages: MESSAGES }, opts(id, 'status=503;times=2'))
          .withResponse();
        const elapsed = performance.now() - t0;
        assert.equal(response.status, 200);
        assert.equal(response.headers.get('x-request-id'), id);
        assert.equal(response.headers.get('x-switchyard-attempts'), '3');
        assert.equal(data.model, UPSTREAM_MODEL);
        assert.ok(data.choices[0].message.content.length > 0, 'empty content');
        // The gateway's backoff is bounded by cap 50 ms per wait.
        assert.ok(elapsed < 2_000, `took ${ms(elapsed)}`);

        const rec = await g.waitForRecord((r) => r.request_id === id);
        assert.equal(rec.status, 200);
        assert.equal(rec.attempts, 3);
        assert.equal(rec.retries, 2);
      });

    test('upstream 429 with retry-after 1: the gateway waits it out; the SDK sees one 200',
      async () => {
        const client = g.client({ maxRetries: 0 });
        const id = newId('429ra1');
        const t0 = performance.now();
        const { data, response } = await client.chat.completions
          .create({ model: 'gpt-4o-mini', messages: MESSAGES },
            opts(id, 'status=429;retry_after=1;times=1'))
          .withResponse();
        const elapsed = performance.now() - t0;
        assert.equal(response.status, 200);
        assert.equal(response.headers.get('x-switchyard-attempts'), '2');
        assert.ok(data.choices[0].message.content.length > 0, 'empty content');
        // retry-after is a floor for the gateway's wait (base 10 ms, cap 50 ms otherwise).
        assert.ok(elapsed >= 950, `answered after ${ms(elapsed)}, before the 1 s retry-after`);
        assert.ok(elapsed < 5_000, `took ${ms(elapsed)}`);
      });
  });

  // ----- 3: the gateway's rate limit; the SDK honours its retry-after-ms -----

  describe('rate limit: 1 request per second per API key', () => {
    // One worker: the access-log lines of one request id come in order.
    const g = useGateway(getMock, (port) => `listen: 127.0.0.1:0
workers: 1
timeouts: { first_byte: 10s, drain: 5s, drain_grace: 0s }
upstreams:
${upstreamBlock(port)}
models:
  - { name: gpt-4o-mini, upstream: mock, model: ${UPSTREAM_MODEL} }
rate_limits:
  - { scope: api_key, requests: 1, period: 1s }
log: { level: warn, access: stdout }
`);

    test('an immediate second call ends 200 through the SDK retry honouring retry-after-ms; ' +
         'with maxRetries 0 it is a RateLimitError with OpenAI headers', async () => {
      const client = g.client({ maxRetries: 2 });
      const params = { model: 'gpt-4o-mini', messages: MESSAGES };

      const first = await client.chat.completions.create(params, opts(newId('rl-1'))).withResponse();
      assert.equal(first.response.status, 200);
      assert.equal(first.response.headers.get('x-ratelimit-limit-requests'), '1');
      assert.equal(first.response.headers.get('x-ratelimit-remaining-requests'), '0');
      assert.ok(first.response.headers.get('x-ratelimit-reset-requests'),
        'x-ratelimit-reset-requests missing on a limited scope');

      const id2 = newId('rl-2');
      const t0 = performance.now();
      const second = await client.chat.completions.create(params, opts(id2)).withResponse();
      const elapsed = performance.now() - t0;
      assert.equal(second.response.status, 200);
      assert.ok(second.data.choices[0].message.content.length > 0, 'empty content');
      assert.ok(elapsed >= 500, `second call answered after only ${ms(elapsed)}`);
      assert.ok(elapsed < 5_000, `second call took ${ms(elapsed)}`);
      // The gateway saw one 429 then one 200 for it: the SDK waited what retry-after-ms said. Its
      // default backoff (375–500 ms for the first retry) would have met a second 429.
      await g.waitForRecord((r) => r.request_id === id2 && r.status === 200);
      assert.deepEqual(g.recordsFor(id2).map((r) => r.status), [429, 200],
        'gateway-side statuses of the second call');

      const id3 = newId('rl-3');
      const t1 = performance.now();
      const err = await expectError(
        client.chat.completions.create(params, opts(id3, undefined, { maxRetries: 0 })),
        OpenAI.RateLimitError);
      const elapsed3 = performance.now() - t1;
      assert.equal(err.status, 429);
      assert.equal(err.code, 'rate_limit_exceeded');
      assert.equal(err.type, 'requests');
      assert.equal(err.requestID, id3);
      assert.equal(err.headers.get('x-ratelimit-limit-requests'), '1');
      assert.equal(err.headers.get('x-ratelimit-remaining-requests'), '0');
      const retryAfterMs = Number(err.headers.get('retry-after-ms'));
      assert.ok(Number.isInteger(retryAfterMs) && retryAfterMs > 0 && retryAfterMs <= 1_000,
        `retry-after-ms ${err.headers.get('retry-after-ms')}`);
      assert.equal(err.headers.get('retry-after'), '1');
      assert.ok(elapsed3 < 300, `a refusal without retries took ${ms(elapsed3)}`);
    });
  });

  // ----- 4: x-should-retry: false stops the SDK's retries -----

  describe('token limit: a request too large for it', () => {
    const g = useGateway(getMock, (port) => `listen: 127.0.0.1:0
workers: 1
timeouts: { first_byte: 10s, drain: 5s, drain_grace: 0s }
upstreams:
${upstreamBlock(port)}
models:
  - { name: gpt-4o-mini, upstream: mock, model: ${UPSTREAM_MODEL} }
rate_limits:
  - { scope: api_key, tokens_per_minute: 1000 }
log: { level: warn, access: stdout }
`);

    test('max_tokens 5000 over 1000 TPM → RateLimitError, not retried by the SDK (maxRetries 3)',
      async () => {
        const client = g.client({ maxRetries: 3 });
        const id = newId('too-large');
        const t0 = performance.now();
        const err = await expectError(
          client.chat.completions.create(
            { model: 'gpt-4o-mini', messages: MESSAGES, max_tokens: 5000 }, opts(id)),
          OpenAI.RateLimitError);
        const elapsed = performance.now() - t0;
        assert.equal(err.status, 429);
        assert.equal(err.code, 'request_too_large_for_limit');
        assert.equal(err.headers.get('x-should-retry'), 'false');
        assert.equal(err.requestID, id);
        assert.ok(elapsed < 300, `${ms(elapsed)}: looks like the SDK waited to retry`);

        // Exactly one request with that id reached the gateway.
        await syncAccessLog(g, client);
        const lines = g.recordsFor(id);
        assert.equal(lines.length, 1,
          `the gateway saw ${lines.length} requests for ${id}: ${JSON.stringify(lines)}`);
        assert.equal(lines[0].status, 429);
      });
  });

  // ----- 5: fallback to another upstream and model -----

  describe('fallback', () => {
    const g = useGateway(getMock, (port) => `listen: 127.0.0.1:0
workers: 2
timeouts: { first_byte: 10s, drain: 5s, drain_grace: 0s }
upstreams:
${upstreamBlock(port)}
  - { name: backup, base_url: "http://127.0.0.1:${port}/v1", api_key: sk-upstream }
models:
  - name: gpt-4o-mini
    upstream: mock
    model: ${UPSTREAM_MODEL}
    fallbacks: [ { upstream: backup, model: backup-model } ]
    retry: { max_attempts: 2, base: 5ms }
log: { level: warn, access: stdout }
`);

    test('primary 502 on both attempts → the fallback answers: model backup-model, ' +
         'x-switchyard-fallback', async () => {
      const client = g.client({ maxRetries: 0 });
      const id = newId('fallback');
      const { data, response } = await client.chat.completions
        .create({ model: 'gpt-4o-mini', messages: MESSAGES }, opts(id, 'status=502;times=2'))
        .withResponse();
      assert.equal(response.status, 200);
      assert.equal(data.model, 'backup-model', 'the mock echoes the model it was asked for');
      assert.equal(response.headers.get('x-switchyard-fallback'), 'backup/backup-model');
      assert.equal(response.headers.get('x-switchyard-attempts'), '3');
      assert.ok(data.choices[0].message.content.length > 0, 'empty content');

      const rec = await g.waitForRecord((r) => r.request_id === id);
      assert.equal(rec.status, 200);
      assert.equal(rec.fallback, 'backup/backup-model');
      assert.equal(rec.upstream, 'backup');

      // Without a fault the primary answers, with no fallback header.
      const plain = await client.chat.completions
        .create({ model: 'gpt-4o-mini', messages: MESSAGES }, opts(newId('no-fallback')))
        .withResponse();
      assert.equal(plain.data.model, UPSTREAM_MODEL);
      assert.equal(plain.response.headers.get('x-switchyard-fallback'), null);
      assert.equal(plain.response.headers.get('x-switchyard-attempts'), '1');
    });
  });

  // ----- 6: streams are retried only before content -----

  describe('streams', () => {
    const g = useGateway(getMock, (port) => `listen: 127.0.0.1:0
workers: 2
timeouts: { first_byte: 10s, drain: 5s, drain_grace: 0s }
retry: { max_attempts: 3, base: 10ms, cap: 50ms }
upstreams:
${upstreamBlock(port)}
models:
  - { name: gpt-4o-mini, upstream: mock, model: ${UPSTREAM_MODEL} }
log: { level: warn, access: stdout }
`);

    test('cut before any content is retried invisibly; a cut after content is an APIError',
      async () => {
        const client = g.client({ maxRetries: 0 });
        const params = { model: 'gpt-4o-mini', messages: MESSAGES, stream: true };
        const reference = chatText(
          await collect(await client.chat.completions.create(params, opts(newId('ref')))));
        assert.ok(reference.length > 0, 'empty reference stream');

        // The upstream sends the role chunk, then dies: nothing with content reached the
        // gateway, which held the stream back and retried.
        const id = newId('cut0');
        const { data: stream, response } = await client.chat.completions
          .create(params, opts(id, 'cut_after=0;times=1'))
          .withResponse();
        assert.equal(response.status, 200);
        const chunks = await collect(stream); // must not throw
        assert.equal(chatText(chunks), reference);
        assert.equal(chunks[0].choices[0].delta.role, 'assistant');
        assert.equal(chunks.filter((c) => c.choices[0]?.delta?.role).length, 1,
          'the role chunk of the failed attempt leaked');
        assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
        assert.equal(response.headers.get('x-switchyard-attempts'), '2');

        // Cut after 3 content chunks: committed, so the client gets the error event.
        const id2 = newId('cut3');
        const cut = await client.chat.completions
          .create(params, opts(id2, 'cut_after=3'))
          .withResponse();
        assert.equal(cut.response.status, 200);
        assert.equal(cut.response.headers.get('x-switchyard-attempts'), '1');
        const received = [];
        const err = await expectError(async () => {
          for await (const chunk of cut.data) received.push(chunk);
        }, OpenAI.APIError);
        assert.ok(err.message, 'error without a message');
        assert.ok(chatText(received).length > 0, 'no content before the error');
        assert.ok(reference.startsWith(chatText(received)), 'content before the cut differs');
        assert.ok(!received.some((c) => c.choices[0]?.finish_reason),
          'a cut stream must not look finished');
      });
  });

  // ----- 7: circuit breaker, and the SDK waiting out its retry-after-ms -----

  describe('circuit breaker', () => {
    const COOLDOWN_MS = 300;
    const g = useGateway(getMock, (port) => `listen: 127.0.0.1:0
workers: 2
timeouts: { first_byte: 10s, drain: 5s, drain_grace: 0s }
retry: { max_attempts: 1 }
upstreams:
${upstreamBlock(port, `, breaker: { consecutive_failures: 2, cooldown: ${COOLDOWN_MS}ms }`)}
models:
  - { name: gpt-4o-mini, upstream: mock, model: ${UPSTREAM_MODEL} }
log: { level: warn, access: stdout }
`);

    test('two 500s eject the upstream: a fast 503 with retry-after-ms; the SDK retry ' +
         'honouring it gets 200 after the cooldown', async () => {
      const client = g.client({ maxRetries: 0 });
      const params = { model: 'gpt-4o-mini', messages: MESSAGES };

      for (let i = 0; i < 2; ++i) {
        const err = await expectError(
          client.chat.completions.create(params, opts(newId(`500-${i}`), 'status=500')),
          OpenAI.InternalServerError);
        assert.equal(err.status, 500);
      }
      const ejectedAt = performance.now();

      const t0 = performance.now();
      const err = await expectError(
        client.chat.completions.create(params, opts(newId('ejected'))), OpenAI.APIError);
      const elapsed = performance.now() - t0;
      assert.equal(err.status, 503, `${err.constructor.name}: ${err.message}`);
      assert.ok(elapsed < 100, `the ejected 503 took ${ms(elapsed)}`);
      const retryAfterMs = Number(err.headers.get('retry-after-ms'));
      assert.ok(Number.isInteger(retryAfterMs) && retryAfterMs >= 1 &&
                retryAfterMs <= COOLDOWN_MS,
        `retry-after-ms ${err.headers.get('retry-after-ms')}`);
      assert.ok(err.headers.get('retry-after'), 'retry-after missing');
      assert.notEqual(err.headers.get('x-should-retry'), 'false',
        'an ejection ends; retrying later can help');

      // The SDK's own retries, honouring retry-after-ms, reach the half-open probe.
      const id = newId('after-cooldown');
      const t1 = performance.now();
      const { data, response } = await client.chat.completions
        .create(params, opts(id, undefined, { maxRetries: 3 }))
        .withResponse();
      const done = performance.now();
      assert.equal(response.status, 200);
      assert.ok(data.choices[0].message.content.length > 0, 'empty content');
      assert.ok(done - ejectedAt >= COOLDOWN_MS - 50,
        `200 only ${ms(done - ejectedAt)} after the ejection (cooldown ${COOLDOWN_MS} ms)`);
      assert.ok(done - t1 < 3_000, `took ${ms(done - t1)}`);

      // The gateway saw 503s (the breaker still open), then the 200 of the probe.
      await g.waitForRecord((r) => r.request_id === id && r.status === 200);
      const statuses = g.recordsFor(id).map((r) => r.status);
      assert.ok(statuses.length >= 2 && statuses.length <= 4, `statuses ${statuses}`);
      assert.deepEqual(statuses.slice(0, -1), statuses.slice(0, -1).map(() => 503),
        `statuses ${statuses}`);
      assert.equal(statuses.at(-1), 200);
    });
  });
});
