// The fake Anthropic upstream (tests/support/fake_anthropic.mjs) answers as the fixtures say,
// checked with plain fetch (no SDK needed): node --test tests/e2e/fake_anthropic.test.mjs

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { anthropicFixture, startFakeAnthropic } from '../support/fake_anthropic.mjs';

let fake;
before(async () => {
  fake = await startFakeAnthropic({ apiKey: 'sk-ant-test' });
});
after(async () => {
  await fake.close();
});

const headers = {
  'x-api-key': 'sk-ant-test',
  'anthropic-version': '2023-06-01',
  'content-type': 'application/json',
};

function post(path, body, extra = {}) {
  return fetch(`${fake.baseURL}${path}`, {
    method: 'POST',
    headers: { ...headers, ...extra },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const hello = { model: 'claude-sonnet-4-5', max_tokens: 64,
  messages: [{ role: 'user', content: 'Hello' }] };

test('non-stream message is the docs example', async () => {
  const r = await post('/v1/messages', hello);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('request-id'), /^req_fake_/);
  assert.deepEqual(await r.json(), JSON.parse(anthropicFixture('docs_message_text.json')));
});

test('stream is the SDK fixture, byte for byte', async () => {
  const r = await post('/v1/messages', { ...hello, stream: true });
  assert.equal(r.headers.get('content-type'), 'text/event-stream');
  assert.equal(await r.text(), anthropicFixture('sdk_stream_basic.sse').toString('utf8'));
  const tools = await post('/v1/messages', { ...hello, stream: true,
    tools: [{ name: 'get_weather', input_schema: { type: 'object' } }] });
  assert.match(await tools.text(), /input_json_delta/);
});

test('count_tokens and models', async () => {
  const c = await post('/v1/messages/count_tokens', { model: 'm', messages: hello.messages });
  const n = (await c.json()).input_tokens;
  assert.ok(Number.isInteger(n) && n > 0);
  const m = await fetch(`${fake.baseURL}/v1/models`, { headers });
  assert.equal((await m.json()).data[0].type, 'model');
});

test('errors in Anthropic shapes', async () => {
  const noKey = await post('/v1/messages', hello, { 'x-api-key': 'wrong' });
  assert.equal(noKey.status, 401);
  assert.equal((await noKey.json()).error.type, 'authentication_error');
  const noMax = await post('/v1/messages', { ...hello, max_tokens: undefined });
  assert.equal(noMax.status, 400);
  assert.equal((await noMax.json()).type, 'error');
  const badJson = await post('/v1/messages', '{"model":');
  assert.equal(badJson.status, 400);
  const overloaded = await post('/v1/messages', { ...hello, model: 'overloaded' });
  assert.equal(overloaded.status, 529);
  assert.equal((await overloaded.json()).error.type, 'overloaded_error');
  const limited = await post('/v1/messages', { ...hello, model: 'rate-limited' });
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get('retry-after'), '1');
  const missing = await post('/v1/nothing', hello);
  assert.equal(missing.status, 404);
});

test('mid-stream error and a cut stream', async () => {
  const e = await post('/v1/messages', { ...hello, model: 'mid-stream-error', stream: true });
  assert.match(await e.text(), /event: error\ndata: .*overloaded_error/);
  const cut = await post('/v1/messages', { ...hello, model: 'cut-2', stream: true });
  await assert.rejects(cut.text()); // the body ends without its last chunk: an error
  assert.equal(fake.requests.at(-1).path, '/v1/messages');
});
