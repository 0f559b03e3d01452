// The wire corpus (tests/fixtures/wire) replayed through a real switchyard process by the
// scriptable upstream of replay_upstream.mjs, read back as raw bytes: every dialect reaches
// the client byte for byte and incrementally (first event before the upstream sent its last),
// with usage and cost metered from the body; what the gateway injected (include_usage) is
// removed for clients that did not ask; every framing and split, and gzip sent unasked.
// HTTP/1.1 behaviour (1xx, pool hygiene, statuses, Expect, retries, switches) is in
// wire_http.test.mjs.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { assertNoProblems } from './harness.mjs';
import { assertClose, rawRequest, startLoggedGateway } from './e2e_util.mjs';
import { EXPECTED, fixtureBytes, fixtureKind, startReplay } from './replay_upstream.mjs';
import { parseSse, streamFacts } from './sse.mjs';
import {
  BODIES, PRICE_IN, PRICE_OUT, STREAMS, gatewayConfig, newId, requestFor,
} from './wire_common.mjs';

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
});
