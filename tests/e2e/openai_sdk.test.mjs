// End-to-end tests: the official `openai` npm SDK talks to a real switchyard process, which
// proxies to a real mock-llm process. Both are started on port 0 and found through the
// "listening on HOST:PORT" lines they print.
//
// Process handling is in harness.mjs (env: SWITCHYARD_BIN, MOCK_LLM_BIN, E2E_VERBOSE).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';

import OpenAI from 'openai';

import {
  assertNoProblems, collect, expectError, startGateway, startMock, stopChild, stopGateway,
} from './harness.mjs';

const CONFIGURED_MODELS = [
  'gpt-4o-mini',
  'text-embedding-3-small',
  'gpt-3.5-turbo-instruct',
  'missing-upstream-model',
];
const UPSTREAM_CHAT_MODEL = 'mock-model'; // what gpt-4o-mini is rewritten to (see the config)

const MESSAGES = [
  { role: 'system', content: 'You are a test.' },
  { role: 'user', content: 'Say something deterministic.' },
];

// ---------------------------------------------------------------------------------------------
// Config

function gatewayConfig(mockPort) {
  return `listen: 127.0.0.1:0
workers: 2
timeouts: { first_byte: 10s, drain: 5s, drain_grace: 0s }
upstreams:
  - { name: mock, base_url: "http://127.0.0.1:${mockPort}/v1", api_key: sk-upstream }
models:
  - { name: gpt-4o-mini, upstream: mock, model: ${UPSTREAM_CHAT_MODEL} }
  - { name: text-embedding-3-small, upstream: mock }
  - { name: gpt-3.5-turbo-instruct, upstream: mock }
  - { name: missing-upstream-model, upstream: mock, model: mock-404 }
log: { level: info, access: off }
`;
}

// ---------------------------------------------------------------------------------------------
// Helpers

function chatText(chunks) {
  return chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
}

function completionText(chunks) {
  return chunks.map((c) => c.choices[0]?.text ?? '').join('');
}

function assertVector(vec, dims, label) {
  assert.ok(Array.isArray(vec), `${label}: embedding is not an array (${typeof vec})`);
  assert.equal(vec.length, dims, `${label}: length`);
  for (const [i, x] of vec.entries()) {
    assert.equal(typeof x, 'number', `${label}[${i}] is not a number`);
    assert.ok(Number.isFinite(x), `${label}[${i}] = ${x} is not finite`);
  }
  assert.ok(vec.some((x) => x !== 0), `${label}: all zero`);
}

// ---------------------------------------------------------------------------------------------
// The suite

describe('openai SDK against switchyard', () => {
  let mock;
  let gateway;
  /** @type {OpenAI} */
  let client;

  before(async () => {
    mock = await startMock();
    gateway = await startGateway(gatewayConfig(mock.port));
    client = new OpenAI({
      baseURL: gateway.baseURL,
      apiKey: 'sk-client',
      maxRetries: 0,
      timeout: 20_000,
    });
  });

  after(async () => {
    assertNoProblems([await stopGateway(gateway), await stopChild(mock?.child)]);
  });

  // ----- chat completions -----

  let chatContent; // the non-stream answer, reused by the stream tests

  test('chat non-stream: content, usage, upstream model, x-request-id', async () => {
    const { data, response, request_id } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: MESSAGES })
      .withResponse();
    assert.equal(response.status, 200);
    const headerId = response.headers.get('x-request-id');
    assert.ok(headerId, 'x-request-id header is missing');
    assert.equal(request_id, headerId);

    assert.equal(data.object, 'chat.completion');
    assert.equal(data.model, UPSTREAM_CHAT_MODEL, 'model is what the upstream answered');
    assert.equal(data.choices.length, 1);
    const msg = data.choices[0].message;
    assert.equal(msg.role, 'assistant');
    assert.equal(typeof msg.content, 'string');
    assert.ok(msg.content.length > 0, 'content is empty');
    assert.equal(data.choices[0].finish_reason, 'stop');

    assert.ok(data.usage, 'usage is missing');
    assert.ok(data.usage.prompt_tokens > 0);
    assert.ok(data.usage.completion_tokens > 0);
    assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + data.usage.completion_tokens);
    chatContent = { text: msg.content, completionTokens: data.usage.completion_tokens };
  });

  test('chat stream: chunks concatenate to the non-stream content; no usage unless asked',
    async () => {
      assert.ok(chatContent, 'depends on the non-stream test');
      const stream = await client.chat.completions.create({
        model: 'gpt-4o-mini', messages: MESSAGES, stream: true,
      });
      const chunks = await collect(stream);
      assert.ok(chunks.length >= 3, `only ${chunks.length} chunks`);
      for (const c of chunks) {
        assert.equal(c.object, 'chat.completion.chunk');
        assert.equal(c.model, UPSTREAM_CHAT_MODEL);
        assert.ok(c.usage == null, 'usage chunk sent without stream_options.include_usage');
      }
      assert.equal(chunks[0].choices[0].delta.role, 'assistant');
      assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
      assert.equal(chatText(chunks), chatContent.text);
    });

  test('chat stream with include_usage: the last chunk carries usage', async () => {
    assert.ok(chatContent, 'depends on the non-stream test');
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini', messages: MESSAGES, stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = await collect(stream);
    assert.ok(chunks.length >= 3, `only ${chunks.length} chunks`);
    const last = chunks.at(-1);
    assert.ok(last.usage, 'the last chunk has no usage');
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.completion_tokens, chatContent.completionTokens);
    assert.ok(last.usage.prompt_tokens > 0);
    assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
    for (const c of chunks.slice(0, -1)) assert.ok(c.usage == null, 'usage before the last chunk');
    assert.equal(chatText(chunks), chatContent.text);
  });

  test('chat stream: breaking after the first chunk does not hang; the client keeps working',
    async () => {
      assert.ok(chatContent, 'depends on the non-stream test');
      // A long, slow upstream stream (~10 s), so that the break happens well before its end.
      const slow = { headers: { 'x-mock-tokens': '1000', 'x-mock-inter-token-ms': '10' } };
      for (let round = 0; round < 3; ++round) {
        const t0 = performance.now();
        const stream = await client.chat.completions.create(
          { model: 'gpt-4o-mini', messages: MESSAGES, stream: true }, slow);
        let seen = 0;
        for await (const chunk of stream) {
          assert.equal(chunk.object, 'chat.completion.chunk');
          ++seen;
          break;
        }
        const elapsed = performance.now() - t0;
        assert.equal(seen, 1);
        assert.ok(stream.controller.signal.aborted, 'break did not abort the request');
        assert.ok(elapsed < 5_000, `round ${round}: break took ${elapsed.toFixed(0)} ms`);
      }
      // The same client (and its connection pool) still works, streaming and not.
      const again = await client.chat.completions.create({ model: 'gpt-4o-mini',
        messages: MESSAGES });
      assert.equal(again.choices[0].message.content, chatContent.text);
      const chunks = await collect(await client.chat.completions.create({
        model: 'gpt-4o-mini', messages: MESSAGES, stream: true,
      }));
      assert.equal(chatText(chunks), chatContent.text);
    });

  test('chat: concurrent streams and non-streams on one client all get whole answers',
    async () => {
      assert.ok(chatContent, 'depends on the non-stream test');
      const paced = { headers: { 'x-mock-inter-token-ms': '5' } }; // so that they overlap
      const jobs = [];
      for (let i = 0; i < 8; ++i) {
        jobs.push(client.chat.completions
          .create({ model: 'gpt-4o-mini', messages: MESSAGES, stream: true }, paced)
          .then(collect)
          .then(chatText));
        jobs.push(client.chat.completions
          .create({ model: 'gpt-4o-mini', messages: MESSAGES }, paced)
          .then((r) => r.choices[0].message.content));
      }
      const texts = await Promise.all(jobs);
      texts.forEach((t, i) => assert.equal(t, chatContent.text, `request ${i}`));
    });

  // ----- legacy completions -----

  test('completions non-stream and stream (gpt-3.5-turbo-instruct)', async () => {
    const params = { model: 'gpt-3.5-turbo-instruct', prompt: 'Once upon a time', max_tokens: 8 };
    const whole = await client.completions.create(params);
    assert.equal(whole.object, 'text_completion');
    assert.equal(whole.model, 'gpt-3.5-turbo-instruct');
    assert.equal(whole.choices.length, 1);
    assert.equal(typeof whole.choices[0].text, 'string');
    assert.ok(whole.choices[0].text.length > 0);
    assert.ok(whole.usage && whole.usage.completion_tokens > 0, 'usage');
    assert.ok(whole.usage.completion_tokens <= 8, 'max_tokens was not passed through');

    const chunks = await collect(await client.completions.create({ ...params, stream: true }));
    assert.ok(chunks.length >= 2, `only ${chunks.length} chunks`);
    for (const c of chunks) assert.equal(c.object, 'text_completion');
    assert.equal(completionText(chunks), whole.choices[0].text);
    assert.ok(chunks.at(-1).choices[0].finish_reason, 'no finish_reason on the last chunk');
  });

  // ----- embeddings -----

  test('embeddings: SDK default (base64 on the wire) decodes to the float answer', async () => {
    const input = ['the quick brown fox', 'jumps over the lazy dog'];
    const dims = 64;
    const { data: b64, response } = await client.embeddings
      .create({ model: 'text-embedding-3-small', input, dimensions: dims })
      .withResponse();
    assert.ok(response.headers.get('x-request-id'), 'x-request-id header is missing');
    assert.equal(b64.object, 'list');
    assert.equal(b64.data.length, input.length);
    b64.data.forEach((d, i) => {
      assert.equal(d.index, i);
      assertVector(d.embedding, dims, `base64[${i}]`);
    });
    assert.notDeepEqual(b64.data[0].embedding, b64.data[1].embedding,
      'different inputs gave the same vector');
    assert.ok(b64.usage && b64.usage.prompt_tokens > 0, 'usage');

    const floats = await client.embeddings.create({
      model: 'text-embedding-3-small', input, dimensions: dims, encoding_format: 'float',
    });
    assert.equal(floats.data.length, input.length);
    floats.data.forEach((d, i) => {
      assertVector(d.embedding, dims, `float[${i}]`);
      const other = b64.data[i].embedding;
      d.embedding.forEach((x, j) => {
        assert.ok(Math.abs(x - other[j]) <= 1e-6,
          `input ${i} dim ${j}: float ${x} vs base64 ${other[j]}`);
      });
    });
  });

  // ----- models -----

  test('models.list returns the configured models', async () => {
    const ids = [];
    for await (const m of client.models.list()) {
      assert.equal(m.object, 'model');
      ids.push(m.id);
    }
    assert.deepEqual([...ids].sort(), [...CONFIGURED_MODELS].sort());
  });

  // ----- errors -----

  test('unknown model: NotFoundError model_not_found from the gateway', async () => {
    const err = await expectError(
      client.chat.completions.create({ model: 'no-such-model', messages: MESSAGES }),
      OpenAI.NotFoundError);
    assert.equal(err.status, 404);
    assert.equal(err.code, 'model_not_found');
    assert.ok(err.requestID, 'error response without x-request-id');

    const streamErr = await expectError(
      client.chat.completions.create({ model: 'no-such-model', messages: MESSAGES, stream: true }),
      OpenAI.NotFoundError);
    assert.equal(streamErr.code, 'model_not_found');
  });

  test('upstream 400 (x-mock-fault) → BadRequestError', async () => {
    const fault = { headers: { 'x-mock-fault': 'status=400' } };
    const err = await expectError(
      client.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES }, fault),
      OpenAI.BadRequestError);
    assert.equal(err.status, 400);
    assert.ok(err.requestID, 'error response without x-request-id');

    // A streaming request whose upstream refuses before the stream starts: a plain error too.
    await expectError(
      client.chat.completions.create(
        { model: 'gpt-4o-mini', messages: MESSAGES, stream: true }, fault),
      OpenAI.BadRequestError);
  });

  test('upstream 404 (model missing upstream) → NotFoundError', async () => {
    const err = await expectError(
      client.chat.completions.create({ model: 'missing-upstream-model', messages: MESSAGES }),
      OpenAI.NotFoundError);
    assert.equal(err.status, 404);
  });

  test('stream cut mid-way upstream → APIError while iterating, after 2+ chunks', async () => {
    const stream = await client.chat.completions.create(
      { model: 'gpt-4o-mini', messages: MESSAGES, stream: true },
      { headers: { 'x-mock-fault': 'cut_after=2' } });
    const received = [];
    const err = await expectError(async () => {
      for await (const chunk of stream) received.push(chunk);
    }, OpenAI.APIError);
    assert.ok(received.length >= 2, `only ${received.length} chunks before the error`);
    assert.ok(!received.some((c) => c.choices[0]?.finish_reason),
      'a cut stream must not look finished');
    assert.ok(err.message, 'error without a message');
  });

  test('malformed request the SDK lets through → BadRequestError param=messages', async () => {
    const err = await expectError(
      client.chat.completions.create({ model: 'gpt-4o-mini', messages: /** @type {any} */ ('nope') }),
      OpenAI.BadRequestError);
    assert.equal(err.status, 400);
    assert.equal(err.param, 'messages');
    assert.ok(err.requestID, 'error response without x-request-id');
  });

  test('the gateway still serves after all of the above', async () => {
    const res = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES });
    assert.ok(res.choices[0].message.content.length > 0);
  });
});
