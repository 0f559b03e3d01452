// End-to-end check of the Responses ⇄ chat translation (providers/responses_chat) with the real
// clients: the unit test `responses_stream.sdk_transcripts` translates chat answers from the wire
// corpus into Responses bodies and event streams and writes them to a folder; a plain HTTP server
// replays them on POST /v1/responses; the official `openai` SDK (responses.create, responses.stream
// and its accumulator) and the AI SDK's default OpenAI provider (which speaks Responses) must
// accept them and read back the text, tool calls, reasoning, usage and failures.
//
// Env: SWITCHYARD_BIN (the unit test binary is found next to it: <build>/tests/unit_tests) or
// UNIT_TESTS_BIN.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import OpenAI from 'openai';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, jsonSchema, streamText, tool } from 'ai';

import { SWITCHYARD_BIN } from './harness.mjs';
import { EXPECTED } from './replay_upstream.mjs';

const UNIT_TESTS_BIN =
  process.env.UNIT_TESTS_BIN || path.join(path.dirname(SWITCHYARD_BIN), 'tests', 'unit_tests');

let dir;
let server;
let baseURL;
const requests = [];

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'responses-transcripts-'));
  execFileSync(UNIT_TESTS_BIN, ['--gtest_filter=responses_stream.sdk_transcripts'], {
    env: { ...process.env, SWITCHYARD_RESPONSES_TRANSCRIPTS: dir },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const json = JSON.parse(body || '{}');
      requests.push({ url: req.url, body: json });
      const file = path.join(dir, `${json.model}.${json.stream ? 'sse' : 'json'}`);
      if (req.method !== 'POST' || req.url !== '/v1/responses' || !fs.existsSync(file)) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'no transcript', type: 'invalid_request_error' } }));
        return;
      }
      res.writeHead(200, {
        'content-type': json.stream ? 'text/event-stream' : 'application/json',
        'x-request-id': 'req_e2e',
      });
      res.end(fs.readFileSync(file));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseURL = `http://127.0.0.1:${server.address().port}/v1`;
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('openai SDK', () => {
  const client = () => new OpenAI({ baseURL, apiKey: 'x', maxRetries: 0 });
  // openai 6.30 sets `output_text` on a streamed final response only for parsed requests.
  const outputText = (r) =>
    r.output
      .filter((o) => o.type === 'message')
      .flatMap((o) => o.content.filter((c) => c.type === 'output_text').map((c) => c.text))
      .join('');

  test('responses.create stream: named events with increasing sequence numbers', async () => {
    const stream = await client().responses.create({ model: 'text', input: 'Hi', stream: true });
    const types = [];
    let text = '';
    for await (const event of stream) {
      assert.equal(event.sequence_number, types.length);
      types.push(event.type);
      if (event.type === 'response.output_text.delta') text += event.delta;
    }
    assert.equal(types[0], 'response.created');
    assert.equal(types.at(-1), 'response.completed');
    assert.equal(text, EXPECTED['openai_chat_stream_usage.sse'].text);
  });

  test('responses.stream accumulates the final response', async () => {
    const stream = client().responses.stream({ model: 'text', input: 'Hi' });
    const final = await stream.finalResponse();
    assert.equal(final.status, 'completed');
    assert.equal(outputText(final), EXPECTED['openai_chat_stream_usage.sse'].text);
    assert.equal(final.usage.input_tokens, EXPECTED['openai_chat_stream_usage.sse'].prompt_tokens);
    assert.equal(final.usage.output_tokens, EXPECTED['openai_chat_stream_usage.sse'].completion_tokens);
    assert.equal(final.id, 'resp_text');
  });

  test('parallel function calls', async () => {
    const final = await client().responses.stream({ model: 'tools', input: 'Weather?' }).finalResponse();
    const calls = final.output.filter((o) => o.type === 'function_call');
    assert.deepEqual(
      calls.map((c) => [c.name, JSON.parse(c.arguments)]),
      [
        ['get_weather', { location: 'Paris, France' }],
        ['get_weather', { location: 'Tokyo' }],
      ],
    );
  });

  test('reasoning then text', async () => {
    const final = await client().responses.stream({ model: 'reasoning', input: 'Hi' }).finalResponse();
    assert.equal(final.output[0].type, 'reasoning');
    assert.equal(final.output[0].summary[0].text, EXPECTED['deepseek_chat_stream_reasoning.sse'].reasoning);
    assert.equal(outputText(final), EXPECTED['deepseek_chat_stream_reasoning.sse'].text);
  });

  test('custom tool call', async () => {
    const final = await client().responses.stream({ model: 'custom', input: 'Hi' }).finalResponse();
    assert.equal(final.output[0].type, 'custom_tool_call');
    assert.equal(final.output[0].name, 'write_sql');
    assert.equal(final.output[0].input, 'SELECT * FROM users');
  });

  test('incomplete (max_output_tokens)', async () => {
    // openai 6.30's accumulator replaces its snapshot on response.completed only, so the
    // terminal event is read from the raw stream.
    const stream = await client().responses.create({ model: 'incomplete', input: 'Hi', stream: true });
    let last;
    for await (const event of stream) last = event;
    assert.equal(last.type, 'response.incomplete');
    assert.equal(last.response.status, 'incomplete');
    assert.equal(last.response.incomplete_details.reason, 'max_output_tokens');
    assert.equal(outputText(last.response), 'Once upon');
    const final = await client().responses.stream({ model: 'incomplete', input: 'Hi' }).finalResponse();
    assert.equal(outputText(final), 'Once upon');
  });

  test('a failure mid-stream is raised, not a silent end', async () => {
    const stream = await client().responses.create({ model: 'failed', input: 'Hi', stream: true });
    await assert.rejects(
      (async () => {
        for await (const _ of stream);
      })(),
      (err) => err instanceof OpenAI.APIError && /upstream connection reset/.test(err.message),
    );
  });

  test('non-stream create', async () => {
    const r = await client().responses.create({ model: 'text', input: 'Hi' });
    assert.equal(r.output_text, EXPECTED['openai_chat.json'].text);
    assert.equal(r.usage.total_tokens, EXPECTED['openai_chat.json'].prompt_tokens + EXPECTED['openai_chat.json'].completion_tokens);
    const t = await client().responses.create({ model: 'tools', input: 'Weather?' });
    assert.equal(t.output[0].type, 'function_call');
    assert.deepEqual(JSON.parse(t.output[0].arguments), { location: 'Paris' });
  });
});

describe('AI SDK default provider (Responses)', () => {
  const openai = () => createOpenAI({ baseURL, apiKey: 'x' });
  const weather = {
    get_weather: tool({
      description: 'Get the weather',
      inputSchema: jsonSchema({
        type: 'object',
        properties: { location: { type: 'string' } },
        required: ['location'],
      }),
    }),
  };

  test('streamText: text, usage, finish reason', async () => {
    const result = streamText({ model: openai()('text'), prompt: 'Hi', maxRetries: 0 });
    assert.equal(await result.text, EXPECTED['openai_chat_stream_usage.sse'].text);
    const usage = await result.usage;
    assert.equal(usage.inputTokens, EXPECTED['openai_chat_stream_usage.sse'].prompt_tokens);
    assert.equal(usage.outputTokens, EXPECTED['openai_chat_stream_usage.sse'].completion_tokens);
    assert.equal(await result.finishReason, 'stop');
    assert.equal(requests.at(-1).url, '/v1/responses');
  });

  test('streamText: parallel tool calls', async () => {
    const result = streamText({ model: openai()('tools'), prompt: 'Weather?', tools: weather, maxRetries: 0 });
    const calls = await result.toolCalls;
    assert.deepEqual(
      calls.map((c) => [c.toolName, c.input]),
      [
        ['get_weather', { location: 'Paris, France' }],
        ['get_weather', { location: 'Tokyo' }],
      ],
    );
    assert.equal(await result.finishReason, 'tool-calls');
  });

  test('streamText: reasoning', async () => {
    const result = streamText({ model: openai()('reasoning'), prompt: 'Hi', maxRetries: 0 });
    assert.equal(await result.text, EXPECTED['deepseek_chat_stream_reasoning.sse'].text);
    assert.equal(await result.reasoningText, EXPECTED['deepseek_chat_stream_reasoning.sse'].reasoning);
  });

  test('streamText: a failure mid-stream surfaces as an error', async () => {
    const errors = [];
    const result = streamText({
      model: openai()('failed'),
      prompt: 'Hi',
      maxRetries: 0,
      onError: ({ error }) => errors.push(error),
    });
    const parts = [];
    for await (const part of result.fullStream) parts.push(part.type);
    assert.ok(parts.includes('error'), parts.join(','));
    assert.ok(errors.length > 0);
  });

  test('generateText: text and a tool call (non-stream)', async () => {
    const text = await generateText({ model: openai()('text'), prompt: 'Hi', maxRetries: 0 });
    assert.equal(text.text, EXPECTED['openai_chat.json'].text);
    const calls = await generateText({ model: openai()('tools'), prompt: 'Weather?', tools: weather, maxRetries: 0 });
    assert.equal(calls.toolCalls[0].toolName, 'get_weather');
    assert.deepEqual(calls.toolCalls[0].input, { location: 'Paris' });
    assert.equal(calls.finishReason, 'tool-calls');
  });
});
