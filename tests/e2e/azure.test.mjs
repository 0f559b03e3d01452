// Azure OpenAI as an upstream (`type: azure`), differentially: the official `openai` SDK
// through the gateway vs the same SDK's own AzureOpenAI client directly against the same fake
// Azure resource (tests/support/fake_azure.mjs) must report the same content, usage, finish
// reasons and errors (class, status, Azure's code). The fake checks what Azure checks
// (deployment URL, api-version, api-key), so the gateway's request targets and credentials are
// verified against Azure's rules, and the fake's request log shows what the gateway sent.
// Run: ctest -R e2e_azure (or ./run.sh azure.test.mjs with SWITCHYARD_BIN set).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import OpenAI, { AzureOpenAI } from 'openai';

import { startFakeAzure } from '../support/fake_azure.mjs';
import { assertNoProblems } from './harness.mjs';
import { errorFacts } from './clients.mjs';
import { startLoggedGateway } from './e2e_util.mjs';

const API_VERSION = '2024-10-21';

function gatewayConfig(endpoint, key) {
  return `listen: 127.0.0.1:0
workers: 1
timeouts: { first_byte: 10s, drain: 5s }
retry: { max_attempts: 2, base: 10ms, cap: 50ms }
upstreams:
  - { name: azure, type: azure, base_url: "${endpoint}", api_version: "${API_VERSION}",
      api_key: "${key}", breaker: { enabled: false } }
  - { name: azure-v1, type: azure, base_url: "${endpoint}/openai/v1", api_key: "${key}",
      breaker: { enabled: false } }
  - { name: azure-entra, type: azure, base_url: "${endpoint}/openai", api_version: "${API_VERSION}",
      auth: entra, api_key: "${key}", breaker: { enabled: false } }
  - { name: azure-badkey, type: azure, base_url: "${endpoint}", api_version: "${API_VERSION}",
      api_key: not-the-key, breaker: { enabled: false } }
models:
  - { name: gpt-4o, upstream: azure, model: gpt4o-prod }
  - { name: embed, upstream: azure, model: embed-small }
  - { name: missing, upstream: azure, model: no-such-deployment }
  - { name: gpt-4o-v1, upstream: azure-v1, model: gpt4o-prod }
  - { name: gpt-4o-entra, upstream: azure-entra, model: gpt4o-prod }
  - { name: gpt-4o-badkey, upstream: azure-badkey, model: gpt4o-prod }
log: { level: warn, access: stdout }
`;
}

// What a client reports about an error: errorFacts plus Azure's own members.
function azureErrorFacts(e) {
  return { ...errorFacts(e), code: e?.code ?? null, param: e?.param ?? null,
    inner: e?.error?.innererror?.code ?? null };
}

async function side(fn) {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return { ok: false, error: azureErrorFacts(e) };
  }
}

// The chunks a stream gave the client. `"usage": null` is dropped: Azure sends it on every
// chunk, and when the gateway injected include_usage it removes those members (README, "Upstream
// wire fidelity"), so a client that did not ask sees it absent instead of null.
async function chunksOf(stream) {
  const chunks = [];
  for await (const c of stream) {
    if (c.usage === null) delete c.usage;
    chunks.push(c);
  }
  return chunks;
}

const ask = (content) => [{ role: 'user', content }];

describe('Azure upstream: openai SDK through the gateway vs AzureOpenAI directly', () => {
  let fake;
  let g;
  let via;
  let direct;

  before(async () => {
    fake = await startFakeAzure();
    g = await startLoggedGateway(gatewayConfig(fake.endpoint, fake.apiKey));
    via = new OpenAI({ baseURL: g.baseURL, apiKey: 'sk-client', maxRetries: 0, timeout: 15_000 });
    direct = new AzureOpenAI({ endpoint: fake.endpoint, apiKey: fake.apiKey,
      apiVersion: API_VERSION, maxRetries: 0, timeout: 15_000 });
  });
  after(async () => {
    const problems = [await g?.stop()];
    await fake?.close();
    assertNoProblems(problems);
  });

  // The requests the fake received while `fn` ran.
  async function seen(fn) {
    const from = fake.requests.length;
    const result = await fn();
    return { result, requests: fake.requests.slice(from) };
  }

  test('chat: same message and usage; the gateway sent Azure\'s deployment URL and api-key',
    async () => {
      const d = await direct.chat.completions.create({ model: 'gpt4o-prod', messages: ask('Hi') });
      const { result: v, requests } = await seen(() =>
        via.chat.completions.create({ model: 'gpt-4o', messages: ask('Hi') }));
      assert.deepEqual(v.choices, d.choices);
      assert.deepEqual(v.usage, d.usage);
      assert.equal(v.choices[0].message.content, 'Hi there!');
      assert.deepEqual(v.usage, { completion_tokens: 4, prompt_tokens: 9, total_tokens: 13 });
      assert.equal(requests.length, 1);
      const r = requests[0];
      assert.equal(r.path, '/openai/deployments/gpt4o-prod/chat/completions');
      assert.equal(r.query, `?api-version=${API_VERSION}`);
      assert.equal(r.headers['api-key'], fake.apiKey);
      assert.equal(r.headers.authorization, undefined, 'the client\'s key never reaches Azure');
      assert.equal(JSON.parse(r.body).model, 'gpt4o-prod');
    });

  test('chat stream: the same chunks, with and without include_usage', async () => {
    for (const extra of [{}, { stream_options: { include_usage: true } }]) {
      const d = await chunksOf(await direct.chat.completions.create(
        { model: 'gpt4o-prod', messages: ask('Hi'), stream: true, ...extra }));
      const v = await chunksOf(await via.chat.completions.create(
        { model: 'gpt-4o', messages: ask('Hi'), stream: true, ...extra }));
      assert.deepEqual(v, d, JSON.stringify(extra));
      // Azure's first chunk: prompt_filter_results with no choices, relayed as is.
      assert.deepEqual(v[0].choices, []);
      assert.ok(v[0].prompt_filter_results);
      assert.equal(v.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'Hi there!');
      assert.equal(v.some((c) => c.usage), extra.stream_options !== undefined);
    }
  });

  test('embeddings: same vectors and usage', async () => {
    const d = await direct.embeddings.create({ model: 'embed-small', input: 'hello' });
    const { result: v, requests } = await seen(() =>
      via.embeddings.create({ model: 'embed', input: 'hello' }));
    assert.deepEqual(v.data, d.data);
    assert.deepEqual(v.usage, d.usage);
    assert.equal(requests[0].path, '/openai/deployments/embed-small/embeddings');
  });

  test('content filter refusal: same BadRequestError with code content_filter, not retried',
    async () => {
      const d = await side(() => direct.chat.completions.create(
        { model: 'gpt4o-prod', messages: ask('trigger-content-filter') }));
      const { result: v, requests } = await seen(() => side(() => via.chat.completions.create(
        { model: 'gpt-4o', messages: ask('trigger-content-filter') })));
      assert.equal(d.ok, false);
      assert.deepEqual(v, d);
      assert.equal(v.error.name, 'BadRequestError');
      assert.equal(v.error.status, 400);
      assert.equal(v.error.code, 'content_filter');
      assert.equal(v.error.inner, 'ResponsibleAIPolicyViolation');
      assert.equal(requests.length, 1, 'a content-filter refusal is final');
    });

  test('a stream cut by the content filter ends with finish_reason content_filter', async () => {
    const d = await chunksOf(await direct.chat.completions.create(
      { model: 'gpt4o-prod', messages: ask('filtered-stream'), stream: true }));
    const v = await chunksOf(await via.chat.completions.create(
      { model: 'gpt-4o', messages: ask('filtered-stream'), stream: true }));
    assert.deepEqual(v, d);
    assert.equal(v.at(-1).choices[0].finish_reason, 'content_filter');
    assert.equal(v.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'Hey Jude');
  });

  test('unknown deployment: the same NotFoundError DeploymentNotFound', async () => {
    const d = await side(() => direct.chat.completions.create(
      { model: 'no-such-deployment', messages: ask('Hi') }));
    const v = await side(() => via.chat.completions.create(
      { model: 'missing', messages: ask('Hi') }));
    assert.deepEqual(v, d);
    assert.equal(v.error.name, 'NotFoundError');
    assert.equal(v.error.code, 'DeploymentNotFound');
  });

  test('wrong key: the same AuthenticationError', async () => {
    const wrong = new AzureOpenAI({ endpoint: fake.endpoint, apiKey: 'not-the-key',
      apiVersion: API_VERSION, maxRetries: 0 });
    const d = await side(() => wrong.chat.completions.create(
      { model: 'gpt4o-prod', messages: ask('Hi') }));
    const v = await side(() => via.chat.completions.create(
      { model: 'gpt-4o-badkey', messages: ask('Hi') }));
    assert.deepEqual(v, d);
    assert.equal(v.error.name, 'AuthenticationError');
    assert.equal(v.error.status, 401);
  });

  test('429 with retry-after-ms: the gateway retries it, as the SDK itself would', async () => {
    const retrying = new AzureOpenAI({ endpoint: fake.endpoint, apiKey: fake.apiKey,
      apiVersion: API_VERSION, maxRetries: 2 });
    const { result: d, requests: dr } = await seen(() => retrying.chat.completions.create(
      { model: 'gpt4o-prod', messages: ask('rate-limit-once-direct') }));
    const { result: v, requests: vr } = await seen(() => via.chat.completions.create(
      { model: 'gpt-4o', messages: ask('rate-limit-once-gateway') }));
    assert.deepEqual(v.choices, d.choices);
    assert.equal(dr.length, 2);
    assert.equal(vr.length, 2, 'one 429, then the retry the client never saw');
  });

  test('v1 API and Entra ID auth reach the same answer', async () => {
    const plain = new OpenAI({ baseURL: `${fake.endpoint}/openai/v1`, apiKey: fake.apiKey,
      maxRetries: 0 });
    const d = await plain.chat.completions.create({ model: 'gpt4o-prod', messages: ask('Hi') });
    const { result: v1, requests: r1 } = await seen(() =>
      via.chat.completions.create({ model: 'gpt-4o-v1', messages: ask('Hi') }));
    assert.deepEqual(v1.choices, d.choices);
    assert.equal(r1[0].path, '/openai/v1/chat/completions');
    assert.equal(r1[0].query, '');
    assert.equal(JSON.parse(r1[0].body).model, 'gpt4o-prod', 'v1: the deployment is the model');
    const { result: entra, requests: re } = await seen(() =>
      via.chat.completions.create({ model: 'gpt-4o-entra', messages: ask('Hi') }));
    assert.deepEqual(entra.choices, d.choices);
    assert.equal(re[0].headers.authorization, `Bearer ${fake.apiKey}`);
    assert.equal(re[0].headers['api-key'], undefined);
  });

  test('the access log names the model and upstream, never a key', async () => {
    const r = await via.chat.completions.create({ model: 'gpt-4o', messages: ask('Hi') })
      .withResponse();
    const id = r.response.headers.get('x-request-id');
    const rec = await g.recordFor(id);
    assert.equal(rec.upstream, 'azure');
    const line = JSON.stringify(g.records);
    assert.equal(line.includes(fake.apiKey), false);
    assert.equal(line.includes('sk-client'), false);
    assert.equal(g.gateway.child.tail(200).includes(fake.apiKey), false);
  });
});
