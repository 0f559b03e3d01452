// The conformance corpus for the Messages and Responses APIs, replayed through a real gateway by
// the scriptable upstream of replay_upstream.mjs with random split points (seeded, so a failure
// names its seed), read back as raw bytes:
//   - pass-through: Anthropic Messages streams (tests/fixtures/providers/anthropic: the official
//     TypeScript SDK's recorded streams, and an `error` event after a 200) to a `type: anthropic`
//     upstream, and OpenAI Responses streams (tests/fixtures/providers/responses: the AI SDK's
//     recordings of OpenAI, framed as OpenAI frames them) to a Responses-native upstream: the
//     client gets the upstream's bytes unchanged, incrementally, and the usage is metered;
//   - translated: the same Messages streams read by a chat client (Messages → chat chunks), and
//     the wire corpus' chat streams (tests/fixtures/wire) read by a Responses client (chat →
//     Responses events): what the client reads is semantically what the upstream said (text,
//     reasoning, tool calls and arguments, finish reason, usage), whatever the split.
// Facts are computed here, from the fixtures, with this suite's own SSE parser.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

import { assertNoProblems } from './harness.mjs';
import { rawRequest, startLoggedGateway } from './e2e_util.mjs';
import { EXPECTED, eventBoundaries, fixtureBytes, prng, startReplay } from './replay_upstream.mjs';
import { parseSse, streamFacts } from './sse.mjs';
import { anthropicFixture } from '../support/fake_anthropic.mjs';
import { STREAMS as RESPONSES_STREAMS, streamBytes } from '../support/fake_responses.mjs';

const SEEDS = [1, 2, 3, 4];
const MESSAGES_STREAMS = ['sdk_stream_basic.sse', 'sdk_stream_tool_use.sse',
  'sdk_stream_max_tokens_partial_json.sse', 'sdk_stream_thinking_refusal.sse',
  'stream_error_overloaded.sse'];
const CHAT_STREAMS = ['openai_chat_stream_usage.sse', 'openai_chat_stream_tool_calls.sse',
  'deepseek_chat_stream_reasoning.sse', 'vllm_chat_stream_usage.sse',
  'llamacpp_chat_stream.sse', 'ollama_chat_stream_tool_calls.sse',
  'llamacpppython_chat_stream_crlf.sse', 'ssestarlette_chat_stream_cr.sse'];

function config(port) {
  const price = 'price: { input_per_mtok: 1, output_per_mtok: 2 }';
  return `listen: 127.0.0.1:0
workers: 1
timeouts: { first_byte: 10s, drain: 5s }
retry: { max_attempts: 1 }
upstreams:
  - { name: anthropic, type: anthropic, base_url: "http://127.0.0.1:${port}/v1",
      api_key: sk-ant-upstream, breaker: { enabled: false } }
  - { name: native, base_url: "http://127.0.0.1:${port}/v1", api_key: sk-native,
      apis: [chat, responses], breaker: { enabled: false } }
  - { name: chatonly, base_url: "http://127.0.0.1:${port}/v1", api_key: sk-upstream,
      breaker: { enabled: false } }
models:
  - { name: claude, upstream: anthropic, ${price} }
  - { name: gpt-native, upstream: native, ${price} }
  - { name: local-chat, upstream: chatonly, ${price} }
log: { level: warn, access: stdout }
`;
}

/** What a Messages stream says: text, thinking, tool calls, stop reason, usage, error. */
function messagesFacts(bytes) {
  const facts = { text: '', thinking: '', signature: '', tools: [], stop_reason: null,
    input_tokens: null, cache_read: 0, cache_write: 0, output_tokens: null, error: null,
    stopped: false };
  const blocks = new Map();
  for (const ev of parseSse(bytes).events) {
    const o = JSON.parse(ev.data);
    if (o.type === 'message_start') {
      const u = o.message.usage ?? {};
      facts.input_tokens = u.input_tokens ?? null;
      facts.cache_read = u.cache_read_input_tokens ?? 0;
      facts.cache_write = u.cache_creation_input_tokens ?? 0;
      facts.output_tokens = u.output_tokens ?? null;
    } else if (o.type === 'content_block_start') {
      blocks.set(o.index, o.content_block);
      if (o.content_block.type === 'tool_use') {
        facts.tools.push({ index: o.index, name: o.content_block.name, args: '' });
      }
    } else if (o.type === 'content_block_delta') {
      const d = o.delta;
      if (d.type === 'text_delta') facts.text += d.text;
      else if (d.type === 'thinking_delta') facts.thinking += d.thinking;
      else if (d.type === 'signature_delta') facts.signature += d.signature;
      else if (d.type === 'input_json_delta') {
        facts.tools.find((t) => t.index === o.index).args += d.partial_json;
      }
    } else if (o.type === 'message_delta') {
      facts.stop_reason = o.delta.stop_reason ?? facts.stop_reason;
      if (o.usage?.output_tokens !== undefined) facts.output_tokens = o.usage.output_tokens;
      if (o.usage?.input_tokens !== undefined) facts.input_tokens = o.usage.input_tokens;
    } else if (o.type === 'message_stop') facts.stopped = true;
    else if (o.type === 'error') facts.error = o.error;
  }
  return facts;
}

/** What a Responses client reads: text, reasoning, calls, status, usage, ids, sequence. */
function responsesFacts(events) {
  const facts = { text: '', reasoning: '', calls: [], status: null, usage: null, ids: new Set(),
    sequenceOk: true, named: true, error: null };
  events.forEach((ev, i) => {
    const o = JSON.parse(ev.data);
    if (ev.type !== o.type) facts.named = false;
    if (o.sequence_number !== undefined && o.sequence_number !== i) facts.sequenceOk = false;
    if (o.response?.id) facts.ids.add(o.response.id);
    if (o.type === 'response.output_text.delta') facts.text += o.delta;
    if (o.type === 'response.reasoning_summary_text.delta') facts.reasoning += o.delta;
    if (o.type === 'response.output_item.done' && /call$/.test(o.item.type)) {
      facts.calls.push({ name: o.item.name, args: o.item.arguments ?? o.item.input });
    }
    if (/^response\.(completed|incomplete|failed)$/.test(o.type)) {
      facts.status = o.response.status;
      facts.usage = o.response.usage;
    }
    if (o.type === 'error') facts.error = o;
  });
  return facts;
}

const FINISH = { end_turn: 'stop', stop_sequence: 'stop', pause_turn: 'stop', max_tokens: 'length',
  tool_use: 'tool_calls', refusal: 'content_filter' };

describe('Messages and Responses corpus through the gateway, random splits', () => {
  let replay;
  let g;

  before(async () => {
    replay = await startReplay();
    g = await startLoggedGateway(config(replay.port));
  });
  after(async () => {
    const problems = [await g?.stop()];
    await replay?.close();
    assertNoProblems(problems);
  });

  /** `n` distinct random cut offsets in `bytes` from `seed` (sorted), or the event boundaries. */
  function cutsFor(bytes, seed) {
    if (seed === 'events') return eventBoundaries(bytes).slice(0, -1);
    const rnd = prng(seed);
    const set = new Set();
    while (set.size < Math.min(12, bytes.length - 1)) set.add(1 + Math.floor(rnd() * (bytes.length - 1)));
    return [...set].sort((a, b) => a - b);
  }

  /**
   * Whether the client can get an event before the upstream's last piece: the gateway holds a
   * stream until its first output (so that it can still retry), so that needs the first event
   * that carries a delta to end before the last cut.
   */
  function canBeIncremental(bytes, cuts) {
    const ends = eventBoundaries(bytes);
    const text = bytes.toString('latin1');
    const firstDelta = ends.find((end, i) => /_delta"|\.delta"/.test(
      text.slice(i === 0 ? 0 : ends[i - 1], end)));
    return firstDelta !== undefined && cuts.length > 0 && cuts.at(-1) >= firstDelta;
  }

  /** Replays `bytes` split by `seed` for one request; the gate checks incrementality. */
  async function through(path, body, bytes, seed) {
    const id = `wire-apis-${randomUUID()}`;
    const cuts = cutsFor(bytes, seed);
    replay.set({ body: bytes, sse: true, gate: true, split: cuts });
    let released = false;
    const res = await rawRequest(g.baseURL + path, {
      headers: { 'x-request-id': id,
        ...(path === '/messages' ? { 'anthropic-version': '2023-06-01' } : {}) }, body,
      onEvent: () => {
        if (!released) {
          released = true;
          replay.release();
        }
      },
    });
    replay.release();
    return { id, res, timings: replay.timings(), incrementalPossible: canBeIncremental(bytes, cuts) };
  }

  const messagesBody = { model: 'claude', max_tokens: 1024, stream: true,
    messages: [{ role: 'user', content: 'Hi' }] };

  describe('Messages pass-through: byte for byte, incremental, metered', () => {
    for (const file of MESSAGES_STREAMS) {
      for (const seed of ['events', ...SEEDS]) {
        test(`${file}, split ${seed}`, async () => {
          const bytes = anthropicFixture(file);
          const { id, res, timings, incrementalPossible } = await through('/messages',
            messagesBody, bytes, seed);
          assert.equal(res.status, 200, res.body.toString());
          assert.match(res.headers['content-type'] ?? '', /^text\/event-stream/);
          assert.equal(res.body.toString('latin1'), bytes.toString('latin1'),
            'the client must get the upstream\'s bytes unchanged');
          if (incrementalPossible) {
            assert.ok(res.firstEventAt !== null && res.firstEventAt < timings.last,
              'not incremental: the first event came only after the upstream\'s last piece');
          }
          assert.equal(replay.requests.at(-1).target, '/v1/messages');
          const want = messagesFacts(bytes);
          const rec = await g.recordFor(id);
          if (!want.error) {
            assert.equal(rec.prompt_tokens, want.input_tokens + want.cache_read + want.cache_write,
              JSON.stringify(rec));
            assert.equal(rec.completion_tokens, want.output_tokens, JSON.stringify(rec));
          } else {
            // An in-band error after a 200 is relayed as sent; the record has the usage read
            // before it (message_start), as for a chat stream's in-band error.
            assert.equal(rec.status, 200, JSON.stringify(rec));
            assert.equal(rec.prompt_tokens, want.input_tokens, JSON.stringify(rec));
          }
        });
      }
    }
  });

  describe('Responses pass-through: byte for byte, incremental, metered', () => {
    for (const name of Object.keys(RESPONSES_STREAMS)) {
      for (const seed of ['events', ...SEEDS]) {
        test(`${name}, split ${seed}`, async () => {
          const bytes = Buffer.from(streamBytes(name));
          const { id, res, timings, incrementalPossible } = await through('/responses',
            { model: 'gpt-native', input: 'Hi', stream: true }, bytes, seed);
          assert.equal(res.status, 200, res.body.toString());
          assert.equal(res.body.toString('latin1'), bytes.toString('latin1'),
            'the client must get the upstream\'s bytes unchanged');
          if (incrementalPossible) {
            assert.ok(res.firstEventAt !== null && res.firstEventAt < timings.last,
              'not incremental');
          }
          assert.equal(replay.requests.at(-1).target, '/v1/responses');
          const facts = responsesFacts(parseSse(bytes).events);
          const rec = await g.recordFor(id);
          if (facts.usage) {
            assert.equal(rec.prompt_tokens, facts.usage.input_tokens, JSON.stringify(rec));
            assert.equal(rec.completion_tokens, facts.usage.output_tokens, JSON.stringify(rec));
          }
        });
      }
    }
  });

  describe('Messages → chat (translated): semantically what Anthropic said', () => {
    for (const file of MESSAGES_STREAMS) {
      test(file, async () => {
        const bytes = anthropicFixture(file);
        const want = messagesFacts(bytes);
        const seen = [];
        for (const seed of ['events', ...SEEDS]) {
          const { res } = await through('/chat/completions', { model: 'claude', stream: true,
            stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Hi' }] },
          bytes, seed);
          assert.equal(res.status, 200, res.body.toString());
          assert.equal(replay.requests.at(-1).target, '/v1/messages');
          const { events } = parseSse(res.body);
          const ids = new Set(events.filter((e) => e.data !== '[DONE]')
            .map((e) => JSON.parse(e.data)).filter((o) => o.id).map((o) => o.id));
          assert.ok(ids.size <= 1, `one chat id for the stream: ${[...ids]}`);
          const f = streamFacts(events);
          assert.equal(f.text, want.text, `text (split ${seed})`);
          assert.equal(f.reasoning, want.thinking, `reasoning (split ${seed})`);
          assert.deepEqual(f.tool_call_names, want.tools.map((t) => t.name), `tools (split ${seed})`);
          assert.deepEqual(f.tool_call_arguments, want.tools.map((t) => t.args),
            `arguments (split ${seed})`);
          if (want.error) {
            assert.ok(f.error, `the error reaches the chat client (split ${seed})`);
            assert.equal(f.done, false, 'no [DONE] after an error');
          } else {
            assert.equal(f.finish_reason, FINISH[want.stop_reason], `finish (split ${seed})`);
            assert.equal(f.prompt_tokens, want.input_tokens + want.cache_read + want.cache_write);
            assert.equal(f.completion_tokens, want.output_tokens);
            assert.equal(f.done, true);
          }
          seen.push(f);
        }
        for (const f of seen.slice(1)) {
          for (const k of ['text', 'reasoning', 'tool_call_names', 'tool_call_arguments',
            'finish_reason', 'prompt_tokens', 'completion_tokens', 'error', 'done']) {
            assert.deepEqual(f[k], seen[0][k], `${k} depends on where the upstream split`);
          }
        }
      });
    }
  });

  describe('chat → Responses (translated): semantically what the chat upstream said', () => {
    for (const file of CHAT_STREAMS) {
      test(file, async () => {
        const want = EXPECTED[file];
        for (const seed of ['events', ...SEEDS]) {
          const { res } = await through('/responses', { model: 'local-chat', input: 'Hi',
            stream: true }, fixtureBytes(file), seed);
          assert.equal(res.status, 200, res.body.toString());
          assert.equal(replay.requests.at(-1).target, '/v1/chat/completions');
          const f = responsesFacts(res.events);
          assert.ok(f.named, 'every event has an event: line equal to its type');
          assert.ok(f.sequenceOk, 'sequence_number counts from 0');
          assert.equal(f.ids.size, 1, `one response id: ${[...f.ids]}`);
          assert.equal(f.text, want.text, `text (split ${seed})`);
          assert.equal(f.reasoning, want.reasoning, `reasoning (split ${seed})`);
          assert.deepEqual(f.calls.map((c) => c.name), want.tool_call_names);
          if (want.tool_call_arguments) {
            assert.deepEqual(f.calls.map((c) => c.args), want.tool_call_arguments);
          }
          assert.equal(f.status, 'completed');
          if (want.prompt_tokens !== null) {
            assert.equal(f.usage.input_tokens, want.prompt_tokens, `usage (split ${seed})`);
            assert.equal(f.usage.output_tokens, want.completion_tokens);
          }
          assert.equal(res.events.at(-1).type, 'response.completed');
        }
      });
    }
  });
});
