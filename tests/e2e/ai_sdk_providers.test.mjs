// The Vercel AI SDK's (ai 6) default providers through the gateway, against the same calls made
// directly to the same fake upstream:
//   - @ai-sdk/openai's default model (`openai(model)`), which speaks the Responses API, on the
//     pass-through route (tests/support/fake_responses.mjs) and on the translated route to a
//     chat-only upstream (the wire corpus' replay server);
//   - @ai-sdk/anthropic (Messages), passed through to a `type: anthropic` upstream
//     (tests/support/fake_anthropic.mjs).
// generateText and streamText; text, tool calls, reasoning, usage, finish reasons.
//
// The OpenAI provider's second turn: with its default `store` (true) the provider sends the
// earlier output items back as `item_reference`s. That needs the items stored server-side, so the
// gateway forwards them on the pass-through route (the upstream has them) and refuses them with a
// 400 naming the `item_reference` on the translated route (the chat upstream has no state, see
// include/switchyard/providers/responses_chat.hpp); with `store: false` the provider sends the
// items themselves and the translated route works.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { createOpenAI } from '@ai-sdk/openai';
import { createAnthropic } from '@ai-sdk/anthropic';
import { APICallError, generateText, jsonSchema, streamText, tool } from 'ai';

import { assertNoProblems } from './harness.mjs';
import { outcome } from './clients.mjs';
import { startLoggedGateway } from './e2e_util.mjs';
import { EXPECTED, startReplay } from './replay_upstream.mjs';
import { startFakeAnthropic } from '../support/fake_anthropic.mjs';
import { startFakeResponses } from '../support/fake_responses.mjs';

function config(replayPort, responsesPort, anthropicPort) {
  const price = 'price: { input_per_mtok: 1, output_per_mtok: 2 }';
  return `listen: 127.0.0.1:0
workers: 1
timeouts: { first_byte: 10s, drain: 5s }
retry: { max_attempts: 2, base: 10ms, cap: 50ms }
upstreams:
  - { name: chatonly, base_url: "http://127.0.0.1:${replayPort}/v1", api_key: sk-upstream,
      breaker: { enabled: false } }
  - { name: native, base_url: "http://127.0.0.1:${responsesPort}/v1", api_key: sk-native,
      apis: [chat, responses], breaker: { enabled: false } }
  - { name: anthropic, type: anthropic, base_url: "http://127.0.0.1:${anthropicPort}/v1",
      api_key: sk-ant-upstream, breaker: { enabled: false } }
models:
  - { name: local-chat, upstream: chatonly, ${price} }
  - { name: gpt-4o, upstream: native, ${price} }
  - { name: claude-sonnet-4-5, upstream: anthropic, ${price} }
log: { level: warn, access: stdout }
`;
}

// The tools the recorded answers call (OpenAI's and Anthropic's recordings use their own names).
const anyInput = jsonSchema({ type: 'object', properties: {}, additionalProperties: true });
const tools = Object.fromEntries(['get_weather', 'get_current_weather', 'calculator', 'test_tool']
  .map((name) => [name, tool({ description: `the ${name} tool`, inputSchema: anyInput })]));

/** What a user reads from a generateText / streamText result. */
async function reduce(r) {
  const usage = await r.usage;
  return {
    text: await r.text,
    reasoning: (await r.reasoningText) ?? '',
    toolCalls: (await r.toolCalls).map((t) => ({ name: t.toolName, input: t.input })),
    usage: { input: usage.inputTokens, output: usage.outputTokens },
    finish: await r.finishReason,
  };
}

async function streamed(args) {
  const errors = [];
  const r = streamText({ ...args, maxRetries: 0, onError: ({ error }) => errors.push(error) });
  const parts = [];
  for await (const p of r.fullStream) parts.push(p.type);
  if (errors.length) throw errors[0];
  return { ...(await reduce(r)), parts: parts.filter((t) => !/^(start|finish)-step$/.test(t)) };
}

async function generated(args) {
  return reduce(await generateText({ ...args, maxRetries: 0 }));
}

describe('AI SDK providers through the gateway', () => {
  let replay;
  let responses;
  let anthropic;
  let g;

  before(async () => {
    replay = await startReplay();
    responses = await startFakeResponses();
    anthropic = await startFakeAnthropic({ apiKey: 'sk-ant-upstream' });
    g = await startLoggedGateway(config(replay.port, responses.port, anthropic.port));
  });
  after(async () => {
    const problems = [await g?.stop()];
    await replay?.close();
    await responses?.close();
    await anthropic?.close();
    assertNoProblems(problems);
  });

  describe('@ai-sdk/openai default provider (Responses), pass-through', () => {
    const sides = () => ({
      direct: createOpenAI({ baseURL: responses.baseURL, apiKey: 'sk-native' }),
      gateway: createOpenAI({ baseURL: g.baseURL, apiKey: 'sk-client' }),
    });
    async function both(call) {
      const s = sides();
      return { direct: await outcome(() => call(s.direct)),
        gateway: await outcome(() => call(s.gateway)) };
    }
    const same = (r, label) => {
      assert.ok(r.direct.ok, `${label}: direct ${JSON.stringify(r.direct)}`);
      assert.deepEqual(r.gateway, r.direct, label);
    };

    test('generateText: text', async () => {
      const r = await both((p) => generated({ model: p('gpt-4o'), prompt: 'Tell me a story.' }));
      same(r, 'text');
      assert.match(r.gateway.value.text, /unicorn/);
      assert.equal(responses.requests.at(-1).path, '/v1/responses');
    });

    test('streamText: text and a tool call', async () => {
      const text = await both((p) => streamed({ model: p('gpt-4o'), prompt: 'Hi' }));
      same(text, 'stream text');
      const calls = await both((p) => streamed({ model: p('gpt-4o'), prompt: 'Weather?', tools }));
      same(calls, 'stream tool call');
      assert.equal(calls.gateway.value.finish, 'tool-calls');
    });

    test('second turn with item_reference (default store): forwarded to the upstream',
      async () => {
        const p = sides().gateway;
        const first = await generateText({ model: p('gpt-4o'), prompt: 'Tell me a story.',
          maxRetries: 0 });
        const second = await generateText({ model: p('gpt-4o'), maxRetries: 0,
          messages: [{ role: 'user', content: 'Tell me a story.' }, ...first.response.messages,
            { role: 'user', content: 'Another one.' }] });
        assert.ok(second.text.length > 0);
        const input = JSON.parse(responses.requests.at(-1).body).input;
        assert.ok(input.some((i) => i.type === 'item_reference'),
          `the provider sent an item_reference: ${JSON.stringify(input)}`);
      });
  });

  describe('@ai-sdk/openai default provider (Responses), translated to chat', () => {
    const p = () => createOpenAI({ baseURL: g.baseURL, apiKey: 'sk-client' });

    test('generateText and streamText read the chat answers', async () => {
      replay.set({ body: 'openai_chat.json' });
      const t = await generated({ model: p()('local-chat'), prompt: 'Hi' });
      assert.equal(t.text, EXPECTED['openai_chat.json'].text);
      assert.deepEqual(t.usage, { input: EXPECTED['openai_chat.json'].prompt_tokens,
        output: EXPECTED['openai_chat.json'].completion_tokens });
      replay.set({ body: 'deepseek_chat_stream_reasoning.sse' });
      const s = await streamed({ model: p()('local-chat'), prompt: 'Hi' });
      assert.equal(s.text, EXPECTED['deepseek_chat_stream_reasoning.sse'].text);
      assert.equal(s.reasoning, EXPECTED['deepseek_chat_stream_reasoning.sse'].reasoning);
      replay.set({ body: 'openai_chat_stream_tool_calls.sse' });
      const c = await streamed({ model: p()('local-chat'), prompt: 'Weather?', tools });
      assert.deepEqual(c.toolCalls.map((x) => x.name),
        EXPECTED['openai_chat_stream_tool_calls.sse'].tool_call_names);
      assert.equal(c.finish, 'tool-calls');
    });

    test('second turn with item_reference (default store): a 400 naming item_reference',
      async () => {
        replay.set({ body: 'openai_chat.json' });
        const first = await generateText({ model: p()('local-chat'), prompt: 'Hi', maxRetries: 0 });
        const before = replay.requests.length;
        const second = await outcome(() => generateText({ model: p()('local-chat'), maxRetries: 0,
          messages: [{ role: 'user', content: 'Hi' }, ...first.response.messages,
            { role: 'user', content: 'Again' }] }));
        assert.equal(second.ok, false, JSON.stringify(second));
        assert.equal(second.error.status, 400, JSON.stringify(second.error));
        assert.match(second.error.message, /item_reference/);
        assert.equal(replay.requests.length, before, 'refused before the upstream');
        // The same conversation with the provider's store: false works.
        const ok = await generateText({ model: p()('local-chat'), maxRetries: 0,
          providerOptions: { openai: { store: false } },
          messages: [{ role: 'user', content: 'Hi' }, ...first.response.messages,
            { role: 'user', content: 'Again' }] });
        assert.equal(ok.text, EXPECTED['openai_chat.json'].text);
        const msgs = replay.requests.at(-1).json.messages;
        assert.deepEqual(msgs.map((m) => m.role), ['user', 'assistant', 'user']);
        assert.equal(msgs[1].content, EXPECTED['openai_chat.json'].text);
      });

    test('the error is an APICallError the SDK does not retry', async () => {
      replay.set({ body: 'openai_chat.json' });
      const r = await generateText({ model: p()('local-chat'), prompt: 'Hi', maxRetries: 0,
        providerOptions: { openai: { previousResponseId: 'resp_123' } } }).catch((e) => e);
      assert.ok(APICallError.isInstance(r), `${r?.constructor?.name}: ${r?.message}`);
      assert.equal(r.statusCode, 400);
      assert.equal(r.isRetryable, false);
      assert.match(r.message, /previous_response_id/);
    });
  });

  describe('@ai-sdk/anthropic (Messages), pass-through', () => {
    async function both(call) {
      const direct = createAnthropic({ baseURL: `${anthropic.baseURL}/v1`, apiKey: 'sk-ant-upstream' });
      const via = createAnthropic({ baseURL: g.baseURL, apiKey: 'sk-client' });
      return { direct: await outcome(() => call(direct)), gateway: await outcome(() => call(via)) };
    }
    const same = (r, label) => {
      assert.ok(r.direct.ok, `${label}: direct ${JSON.stringify(r.direct)}`);
      assert.deepEqual(r.gateway, r.direct, label);
    };
    const M = 'claude-sonnet-4-5';
    const thinking = { anthropic: { thinking: { type: 'enabled', budgetTokens: 1024 } } };

    test('generateText: text, tool use, thinking', async () => {
      const text = await both((a) => generated({ model: a(M), prompt: 'Hello' }));
      same(text, 'text');
      assert.ok(text.gateway.value.text.length > 0);
      const calls = await both((a) => generated({ model: a(M), prompt: 'Weather?', tools }));
      same(calls, 'tool use');
      assert.equal(calls.gateway.value.finish, 'tool-calls');
      const think = await both((a) => generated({ model: a(M), prompt: 'Think.',
        providerOptions: thinking }));
      same(think, 'thinking');
      assert.ok(think.gateway.value.reasoning.length > 0);
      assert.equal(anthropic.requests.at(-1).path, '/v1/messages');
    });

    test('streamText: text, tool use, thinking', async () => {
      const text = await both((a) => streamed({ model: a(M), prompt: 'Hello' }));
      same(text, 'stream text');
      const calls = await both((a) => streamed({ model: a(M), prompt: 'Weather?', tools }));
      same(calls, 'stream tool use');
      assert.ok(calls.gateway.value.toolCalls.length > 0);
      const think = await both((a) => streamed({ model: a(M), prompt: 'Think.',
        providerOptions: thinking }));
      same(think, 'stream thinking');
      assert.ok(think.gateway.value.reasoning.length > 0);
    });
  });
});
