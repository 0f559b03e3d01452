// Differential tests with real clients: the same call, made by the same client, once directly
// to the upstream and once through switchyard, must give the same result (text, reasoning,
// tool calls, usage, finish reason; or the same error class, status and message) and the same
// incrementality (the first chunk reaches the client before the upstream has sent its last).
// The upstream is the replay server serving the wire corpus (tests/fixtures/wire); the clients
// are openai, ai + @ai-sdk/openai, ai + @ai-sdk/openai-compatible and @langchain/openai.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { assertNoProblems } from './harness.mjs';
import { clientsFor, errorFacts, outcome } from './clients.mjs';
import { startLoggedGateway } from './e2e_util.mjs';
import { EXPECTED, eventBoundaries, fixtureBytes, startReplay } from './replay_upstream.mjs';
import { gatewayConfig } from './wire_common.mjs';

const CHAT_STREAMS = Object.keys(EXPECTED).filter((f) => f.endsWith('.sse') &&
  !/completions|error|tool_calls|n2/.test(f));
const CHAT_BODIES = ['openai_chat.json', 'azure_chat.json', 'vllm_chat.json', 'llamacpp_chat.json',
  'llamacpppython_chat.json', 'ollama_chat.json', 'lmstudio_chat.json',
  'openai_chat_usage_first.json'];

describe('real clients: direct to the upstream and through the gateway agree', () => {
  let replay;
  let g;
  let direct;
  let via;

  before(async () => {
    replay = await startReplay();
    g = await startLoggedGateway(gatewayConfig(replay.port));
    direct = clientsFor(replay.baseURL);
    via = clientsFor(g.baseURL);
  });
  after(async () => {
    const problems = [await g?.stop()];
    await replay?.close();
    assertNoProblems(problems);
  });

  /**
   * Makes `call(client)` once per side with `spec` as the upstream's answer; for streams the
   * last piece is held until the client has its first chunk. Returns both outcomes and whether
   * each side was incremental.
   */
  async function bothSides(i, spec, call, { stream = false } = {}) {
    const sides = {};
    for (const [side, clients] of [['direct', direct], ['gateway', via]]) {
      replay.set(stream ? { gate: true, ...spec } : spec);
      let firstAt = null;
      const onFirst = () => {
        if (firstAt === null) {
          firstAt = performance.now();
          replay.release();
        }
      };
      const result = await outcome(() => call(clients[i], onFirst));
      replay.release();
      sides[side] = { result, incremental: firstAt !== null && firstAt < replay.timings().last };
    }
    return sides;
  }

  function assertSame(sides, label) {
    assert.deepEqual(sides.gateway.result, sides.direct.result,
      `${label}: the gateway changed what the client reports`);
  }

  for (const [i, name] of ['openai', 'ai-sdk/openai', 'ai-sdk/openai-compatible', 'langchain']
    .entries()) {
    describe(name, () => {
      for (const file of CHAT_BODIES) {
        test(`non-stream ${file}`, async () => {
          const sides = await bothSides(i, { body: file }, (c) => c.chat({ stream: false }));
          assert.ok(sides.direct.result.ok, JSON.stringify(sides.direct.result));
          assertSame(sides, file);
          assert.equal(sides.gateway.result.value.text, EXPECTED[file].text);
        });
      }

      for (const file of CHAT_STREAMS) {
        test(`stream ${file}`, async () => {
          const sides = await bothSides(i, { body: file },
            (c, onFirst) => c.chat({ stream: true, onFirst }), { stream: true });
          assert.ok(sides.direct.result.ok, JSON.stringify(sides.direct.result));
          assertSame(sides, file);
          assert.equal(sides.direct.incremental, true, 'direct: not incremental (test setup)');
          assert.equal(sides.gateway.incremental, true,
            'through the gateway the first chunk came only after the upstream\'s last piece');
        });
      }

      for (const file of ['openai_chat_stream_tool_calls.sse', 'ollama_chat_stream_tool_calls.sse']) {
        test(`tool-call stream ${file}`, async () => {
          const sides = await bothSides(i, { body: file },
            (c, onFirst) => c.chat({ stream: true, tools: true, onFirst }), { stream: true });
          assert.ok(sides.direct.result.ok, JSON.stringify(sides.direct.result));
          assertSame(sides, file);
          assert.deepEqual(sides.gateway.result.value.toolCalls.map((t) => t.name),
            EXPECTED[file].tool_call_names);
          assert.equal(sides.gateway.incremental, true, 'not incremental through the gateway');
        });
      }

      test('embeddings (float)', async () => {
        const sides = await bothSides(i, { body: 'openai_embeddings_float.json' },
          (c) => c.embed({ format: 'float' }));
        assert.ok(sides.direct.result.ok, JSON.stringify(sides.direct.result));
        assertSame(sides, 'embeddings');
        assert.deepEqual(sides.gateway.result.value.vectors,
          EXPECTED['openai_embeddings_float.json'].embeddings);
      });

      const errors = [
        [400, { message: "Invalid value for 'temperature': must be <= 2.",
          type: 'invalid_request_error', param: 'temperature', code: 'invalid_value' }],
        [404, { message: 'The model `replay-chat` does not exist or you do not have access to it.',
          type: 'invalid_request_error', param: null, code: 'model_not_found' }],
        [429, null], // the insufficient_quota fixture
        [500, { message: 'The server had an error while processing your request.',
          type: 'server_error', param: null, code: null }],
      ];
      for (const [status, error] of errors) {
        for (const stream of [false, true]) {
          test(`error ${status}${stream ? ' (stream)' : ''}`, async () => {
            const spec = { status, body: error ? JSON.stringify({ error })
              : 'openai_error_429_quota.json' };
            const sides = await bothSides(i, spec, (c) => c.chat({ stream }));
            assert.equal(sides.direct.result.ok, false, 'direct: expected an error');
            assertSame(sides, `error ${status}`);
          });
        }
      }

      test('error after the stream started (LiteLLM in-stream error event)', async () => {
        const sides = await bothSides(i, { body: 'litellm_chat_stream_error.sse' },
          (c, onFirst) => c.chat({ stream: true, onFirst }), { stream: true });
        assertSame(sides, 'in-stream error');
      });

      test('abort after the first chunk: the client stops the same way; the gateway lets go ' +
           'of the upstream', async () => {
        const full = EXPECTED['openai_chat_stream_usage.sse'].text;
        const sides = {};
        for (const [side, clients] of [['direct', direct], ['gateway', via]]) {
          // Two pieces: the role and first content events, then (gated) the rest.
          const cut = eventBoundaries(fixtureBytes('openai_chat_stream_usage.sse'))[1];
          replay.set({ body: 'openai_chat_stream_usage.sse', gate: true, split: [cut] });
          const controller = new AbortController();
          const before = replay.requests.length;
          let incremental = false; // the first chunk came while the upstream still held the rest
          const result = await outcome(() => clients[i].chat({ stream: true,
            signal: controller.signal, onFirst: () => {
              incremental = !replay.lastSent();
              controller.abort();
            } }));
          const conn = replay.requests[before]?.connectionId;
          const closed = conn ? await replay.waitClosed(conn) : false;
          replay.release();
          sides[side] = { result, closed, incremental };
        }
        assert.equal(sides.gateway.incremental, true,
          'through the gateway the first chunk came only after the upstream\'s last piece, so ' +
          'the abort could not happen mid-stream');
        // Some clients end the iteration quietly on abort (openai-node), others throw.
        assert.equal(sides.gateway.result.ok, sides.direct.result.ok,
          `direct ${JSON.stringify(sides.direct.result)} vs gateway ${JSON.stringify(sides.gateway.result)}`);
        if (sides.direct.result.ok) {
          for (const s of ['direct', 'gateway']) {
            const { text } = sides[s].result.value;
            assert.ok(full.startsWith(text) && text.length < full.length, `${s}: ${text}`);
          }
        } else {
          assert.equal(sides.gateway.result.error.name, sides.direct.result.error.name);
        }
        assert.equal(sides.direct.closed, true, 'direct: the client kept the connection (setup)');
        assert.equal(sides.gateway.closed, true,
          'the gateway kept the upstream generating after the client went away');
      });
    });
  }

  describe('openai only', () => {
    test('n = 2 stream: both choices', async () => {
      const sides = await bothSides(0, { body: 'openai_chat_stream_n2.sse' },
        (c, onFirst) => c.chat({ stream: true, n: 2, onFirst }), { stream: true });
      assert.ok(sides.direct.result.ok, JSON.stringify(sides.direct.result));
      assertSame(sides, 'n=2');
      assert.deepEqual(sides.gateway.result.value.texts, EXPECTED['openai_chat_stream_n2.sse'].texts);
    });

    for (const file of ['openai_completions_stream.sse', 'llamacpp_completions_stream.sse',
      'ollama_completions_stream.sse']) {
      test(`legacy completions stream ${file}`, async () => {
        const sides = await bothSides(0, { body: file },
          (c, onFirst) => c.chat({ stream: true, kind: 'completion', onFirst }), { stream: true });
        assert.ok(sides.direct.result.ok, JSON.stringify(sides.direct.result));
        assertSame(sides, file);
        assert.equal(sides.gateway.result.value.text, EXPECTED[file].text);
        assert.equal(sides.gateway.incremental, true, 'not incremental through the gateway');
      });
    }

    test('legacy completions, non-stream', async () => {
      const sides = await bothSides(0, { body: 'openai_completions.json' },
        (c) => c.chat({ stream: false, kind: 'completion' }));
      assertSame(sides, 'completions');
    });

    test('embeddings with the SDK default (base64 on the wire)', async () => {
      const before = replay.requests.length;
      const sides = await bothSides(0, { body: 'openai_embeddings_base64.json' },
        (c) => c.embed({}));
      assert.ok(sides.direct.result.ok, JSON.stringify(sides.direct.result));
      assertSame(sides, 'base64 embeddings');
      assert.deepEqual(sides.gateway.result.value.vectors,
        EXPECTED['openai_embeddings_base64.json'].embeddings);
      assert.equal(replay.requests.at(-1).json.encoding_format, 'base64',
        'the gateway forwards encoding_format');
      assert.equal(replay.requests.length - before, 2);
    });
  });

  test('errorFacts keeps class, status and message', () => {
    assert.deepEqual(errorFacts(Object.assign(new TypeError('x'), { status: 1 })),
      { name: 'TypeError', status: 1, message: 'x' });
  });
});
