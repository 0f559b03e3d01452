// HTTP/1.1 towards the upstream, through a real switchyard process and the replay server:
// interim 1xx responses and stray bytes never mix two clients' answers, status codes Beast does
// not name are relayed as sent, Expect is not forwarded, retries cooperate with SDK retries
// (x-should-retry), a stream cut after content is not replayed, the per-upstream and retry
// switches of issue 9, and the stream hold's timer.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import OpenAI from 'openai';

import { assertNoProblems } from './harness.mjs';
import { rawRequest, startLoggedGateway } from './e2e_util.mjs';
import { EXPECTED, eventBoundaries, fixtureBytes, startReplay } from './replay_upstream.mjs';
import { streamFacts } from './sse.mjs';
import { gatewayConfig, newId, requestFor } from './wire_common.mjs';

describe('HTTP/1.1 to the upstream', () => {
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
