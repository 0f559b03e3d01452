// The official `openai` SDK's Responses API (responses.create, stream and not; function tools and
// a custom tool) through the gateway's /v1/responses on its two routes:
//   - pass-through to an upstream that serves Responses natively (the fake of
//     tests/support/fake_responses.mjs, replaying OpenAI's recorded streams and spec examples):
//     the same call direct and through the gateway must give the same result, event for event
//     and byte for byte, and the gateway meters usage from the terminal event;
//   - translated, to a chat-only upstream (the wire corpus' replay server, tests/fixtures/wire):
//     the SDK must read the chat answer back as a Response (text, function calls, a custom tool
//     call, usage), the stream as named events with one response id and increasing sequence
//     numbers, and `store: true` / `previous_response_id` are refused with a 400 the SDK raises as
//     BadRequestError.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import OpenAI from 'openai';

import { assertNoProblems } from './harness.mjs';
import { outcome } from './clients.mjs';
import { startLoggedGateway } from './e2e_util.mjs';
import { EXPECTED, startReplay } from './replay_upstream.mjs';
import { BODIES, finalResponse, startFakeResponses, streamBytes } from '../support/fake_responses.mjs';

const PRICE_IN = 1;
const PRICE_OUT = 2;

function config(replayPort, fakePort) {
  const price = `price: { input_per_mtok: ${PRICE_IN}, output_per_mtok: ${PRICE_OUT} }`;
  return `listen: 127.0.0.1:0
workers: 1
timeouts: { first_byte: 10s, drain: 5s }
retry: { max_attempts: 2, base: 10ms, cap: 50ms }
upstreams:
  - { name: chatonly, base_url: "http://127.0.0.1:${replayPort}/v1", api_key: sk-upstream,
      breaker: { enabled: false } }
  - { name: native, base_url: "http://127.0.0.1:${fakePort}/v1", api_key: sk-native,
      apis: [chat, responses], breaker: { enabled: false } }
models:
  - { name: local-chat, upstream: chatonly, ${price} }
  - { name: gpt-5.4, upstream: native, ${price} }
  - { name: quota, upstream: native, ${price} }
  - { name: rate-limited, upstream: native, ${price} }
log: { level: warn, access: stdout }
`;
}

const weatherTool = {
  type: 'function',
  name: 'get_weather',
  description: 'Current weather of a place',
  parameters: { type: 'object', properties: { location: { type: 'string' } },
    required: ['location'], additionalProperties: false },
  strict: true,
};
const sqlTool = {
  type: 'custom',
  name: 'write_sql',
  description: 'Write a SQL SELECT query to answer the user question.',
  format: { type: 'grammar', syntax: 'regex', definition: 'SELECT .+' },
};

/** Text of a Response's message items (the SDK sets output_text only on non-stream results). */
const outputText = (r) => r.output.filter((o) => o.type === 'message')
  .flatMap((o) => o.content.filter((c) => c.type === 'output_text').map((c) => c.text)).join('');

/** Every event of a stream, and the terminal one's response. */
async function events(client, params, options) {
  const stream = await client.responses.create({ ...params, stream: true }, options);
  const list = [];
  for await (const ev of stream) list.push(ev);
  return { events: list, final: list.at(-1)?.response ?? null };
}

/** A chat completions stream (OpenAI's chunk shape) calling one tool with `args`. */
function chatToolCallStream(name, args) {
  const base = { id: 'chatcmpl-customtool0001', object: 'chat.completion.chunk', created: 1741570283,
    model: 'local-chat' };
  const chunk = (delta, finish = null, extra = {}) => `data: ${JSON.stringify({ ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra })}\n\n`;
  return Buffer.from(
    chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_sql_1',
      type: 'function', function: { name, arguments: '' } }] }) +
    chunk({ tool_calls: [{ index: 0, function: { arguments: JSON.stringify(args).slice(0, 9) } }] }) +
    chunk({ tool_calls: [{ index: 0, function: { arguments: JSON.stringify(args).slice(9) } }] }) +
    chunk({}, 'tool_calls') +
    `data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 40,
      completion_tokens: 12, total_tokens: 52 } })}\n\n` +
    'data: [DONE]\n\n');
}

describe('openai responses.create through the gateway', () => {
  let replay;
  let fake;
  let g;
  let direct;
  let via;

  before(async () => {
    replay = await startReplay();
    fake = await startFakeResponses();
    g = await startLoggedGateway(config(replay.port, fake.port));
    direct = new OpenAI({ baseURL: fake.baseURL, apiKey: 'sk-native', maxRetries: 0,
      timeout: 15_000 });
    via = new OpenAI({ baseURL: g.baseURL, apiKey: 'sk-client', maxRetries: 0, timeout: 15_000 });
  });
  after(async () => {
    const problems = [await g?.stop()];
    await replay?.close();
    await fake?.close();
    assertNoProblems(problems);
  });

  async function both(call) {
    return { direct: await outcome(() => call(direct)), gateway: await outcome(() => call(via)) };
  }
  function assertSame(sides, label) {
    assert.ok(sides.direct.ok, `${label}: direct failed: ${JSON.stringify(sides.direct)}`);
    assert.deepEqual(sides.gateway, sides.direct, `${label}: the gateway changed what the SDK reports`);
  }

  describe('pass-through to a Responses upstream', () => {
    const M = 'gpt-5.4';

    test('non-stream text: the same Response', async () => {
      const sides = await both((c) => c.responses.create({ model: M, input: 'Tell me a story.' }));
      assertSame(sides, 'text');
      assert.equal(sides.gateway.value.output_text, outputText(JSON.parse(BODIES.text)));
      const sent = fake.requests.at(-1);
      assert.equal(sent.path, '/v1/responses');
      assert.equal(sent.headers.authorization, 'Bearer sk-native', 'the upstream\'s key');
    });

    test('stream text: the same events; the raw stream byte for byte', async () => {
      const sides = await both((c) => events(c, { model: M, input: 'Hi' }));
      assertSame(sides, 'text stream');
      assert.equal(sides.gateway.value.events.at(-1).type, 'response.completed');
      const res = await via.responses.create({ model: M, input: 'Hi', stream: true }).asResponse();
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
      assert.equal(await res.text(), streamBytes('text'));
    });

    test('responses.stream accumulates the same final response', async () => {
      const sides = await both((c) => c.responses.stream({ model: M, input: 'Hi' }).finalResponse());
      assertSame(sides, 'accumulated');
      assert.equal(outputText(sides.gateway.value), outputText(finalResponse('text')));
    });

    test('function tools, stream and not (with reasoning summaries first)', async () => {
      const plain = await both((c) => c.responses.create({ model: M, input: 'Weather in Boston?',
        tools: [weatherTool] }));
      assertSame(plain, 'function call');
      assert.equal(plain.gateway.value.output[0].type, 'function_call');
      const streamed = await both((c) => events(c, { model: M, input: 'Compute.',
        tools: [weatherTool], reasoning: { effort: 'low', summary: 'auto' } }));
      assertSame(streamed, 'reasoning + function call stream');
      assert.deepEqual(streamed.gateway.value.final.output.map((o) => o.type),
        ['reasoning', 'function_call']);
    });

    test('a custom tool call: its raw input text unchanged', async () => {
      const sides = await both((c) => events(c, { model: M, input: 'Users over 25?',
        tools: [sqlTool] }));
      assertSame(sides, 'custom tool stream');
      const call = sides.gateway.value.final.output[0];
      assert.equal(call.type, 'custom_tool_call');
      assert.equal(call.input, 'SELECT * FROM users WHERE age > 25');
      const plain = await both((c) => c.responses.create({ model: M, input: 'Users over 25?',
        tools: [sqlTool] }));
      assertSame(plain, 'custom tool');
    });

    test('usage is metered from response.completed', async () => {
      const id = `responses-usage-${Date.now()}`;
      const { final } = await events(via, { model: M, input: 'Hi' },
        { headers: { 'x-request-id': id } });
      const rec = await g.recordFor(id);
      assert.equal(rec.prompt_tokens, final.usage.input_tokens, JSON.stringify(rec));
      assert.equal(rec.completion_tokens, final.usage.output_tokens, JSON.stringify(rec));
      assert.ok(!rec.usage_estimated, JSON.stringify(rec));
      const cost = (final.usage.input_tokens * PRICE_IN + final.usage.output_tokens * PRICE_OUT) / 1e6;
      assert.ok(Math.abs(rec.cost_usd - cost) < 1e-9, `cost ${rec.cost_usd} vs ${cost}`);
    });

    test('a failed stream (error, response.failed) is raised the same way', async () => {
      const sides = await both((c) => events(c, { model: 'quota', input: 'Hi' }));
      assert.equal(sides.direct.ok, false, `direct: ${JSON.stringify(sides.direct)}`);
      assert.deepEqual(sides.gateway, sides.direct);
    });

    test('429 with retry-after: RateLimitError on both sides', async () => {
      const sides = await both((c) => c.responses.create({ model: 'rate-limited', input: 'Hi' }));
      assert.equal(sides.direct.error?.name, 'RateLimitError', JSON.stringify(sides.direct));
      assert.deepEqual(sides.gateway, sides.direct);
    });
  });

  describe('translated, to a chat-only upstream', () => {
    const M = 'local-chat';

    test('non-stream text and usage from the chat answer', async () => {
      replay.set({ body: 'openai_chat.json' });
      const r = await via.responses.create({ model: M, input: 'Hi', instructions: 'Be brief.' });
      const want = EXPECTED['openai_chat.json'];
      assert.equal(r.object, 'response');
      assert.equal(r.status, 'completed');
      assert.equal(r.output_text, want.text);
      assert.equal(r.usage.input_tokens, want.prompt_tokens);
      assert.equal(r.usage.output_tokens, want.completion_tokens);
      const sent = replay.requests.at(-1);
      assert.equal(sent.target, '/v1/chat/completions');
      assert.deepEqual(sent.json.messages, [{ role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' }]);
    });

    test('stream: named events, one response id, increasing sequence numbers', async () => {
      replay.set({ body: 'openai_chat_stream_usage.sse' });
      const { events: list, final } = await events(via, { model: M, input: 'Hi' });
      const want = EXPECTED['openai_chat_stream_usage.sse'];
      assert.equal(list[0].type, 'response.created');
      assert.equal(list.at(-1).type, 'response.completed');
      list.forEach((ev, i) => assert.equal(ev.sequence_number, i, `sequence_number of ${ev.type}`));
      const ids = new Set(list.filter((e) => e.response).map((e) => e.response.id));
      assert.equal(ids.size, 1, `one response id: ${[...ids]}`);
      const text = list.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta)
        .join('');
      assert.equal(text, want.text);
      assert.equal(outputText(final), want.text);
      assert.equal(final.usage.input_tokens, want.prompt_tokens);
      assert.equal(final.usage.output_tokens, want.completion_tokens);
      assert.equal(replay.requests.at(-1).json.stream_options?.include_usage, true);
    });

    test('function tools: chat tool calls come back as function_call items', async () => {
      replay.set({ body: 'openai_chat_stream_tool_calls.sse' });
      const final = await via.responses.stream({ model: M, input: 'Weather?', tools: [weatherTool] })
        .finalResponse();
      const want = EXPECTED['openai_chat_stream_tool_calls.sse'];
      const calls = final.output.filter((o) => o.type === 'function_call');
      assert.deepEqual(calls.map((c) => c.name), want.tool_call_names);
      assert.deepEqual(calls.map((c) => c.arguments), want.tool_call_arguments);
      const sent = replay.requests.at(-1).json;
      assert.equal(sent.tools[0].type, 'function');
      assert.equal(sent.tools[0].function.name, 'get_weather');
    });

    test('a custom tool: a function upstream, a custom_tool_call with the raw input back',
      async () => {
        const input = 'SELECT * FROM users WHERE age > 25';
        replay.set({ body: chatToolCallStream('write_sql', { input }), sse: true });
        const { final } = await events(via, { model: M, input: 'Users over 25?', tools: [sqlTool] });
        const call = final.output.find((o) => o.type === 'custom_tool_call');
        assert.ok(call, JSON.stringify(final.output));
        assert.equal(call.name, 'write_sql');
        assert.equal(call.input, input);
        const sent = replay.requests.at(-1).json.tools[0];
        assert.equal(sent.function.name, 'write_sql');
        assert.equal(sent.function.parameters.properties.input.type, 'string');
        // Non-stream: the same call.
        replay.set({ body: Buffer.from(JSON.stringify({ id: 'chatcmpl-ct', object: 'chat.completion',
          created: 1741570283, model: M, choices: [{ index: 0, finish_reason: 'tool_calls',
            message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_sql_1',
              type: 'function', function: { name: 'write_sql',
                arguments: JSON.stringify({ input }) } }] } }],
        usage: { prompt_tokens: 40, completion_tokens: 12, total_tokens: 52 } })) });
        const r = await via.responses.create({ model: M, input: 'Users over 25?', tools: [sqlTool] });
        assert.equal(r.output[0].type, 'custom_tool_call');
        assert.equal(r.output[0].input, input);
      });

    for (const [label, extra, param] of [
      ['store: true', { store: true }, 'store'],
      ['previous_response_id', { previous_response_id: 'resp_123' }, 'previous_response_id'],
    ]) {
      for (const stream of [false, true]) {
        test(`${label}${stream ? ' (stream)' : ''}: a 400 the SDK raises as BadRequestError`,
          async () => {
            replay.set({ body: 'openai_chat.json' });
            const before = replay.requests.length;
            const r = await outcome(async () => {
              const res = await via.responses.create({ model: M, input: 'Hi', stream, ...extra });
              if (stream) for await (const _ of res);
              return res;
            });
            assert.equal(r.ok, false, JSON.stringify(r));
            assert.equal(r.error.name, 'BadRequestError', JSON.stringify(r.error));
            assert.equal(r.error.status, 400);
            assert.match(r.error.message, new RegExp(param));
            const e = await via.responses.create({ model: M, input: 'Hi', ...extra })
              .catch((err) => err);
            assert.equal(e.param, param, JSON.stringify(e.error));
            assert.equal(e.type, 'invalid_request_error');
            assert.equal(replay.requests.length, before, 'refused before reaching the upstream');
          });
      }
    }
  });
});
