// Batch priority (docs/replica-limits.md) through the official `openai` SDK: a client that sends
// `x-switchyard-priority: batch` on every request (defaultHeaders, as a batch runner would) is
// refused with the SDK's RateLimitError once only the live reserve is left, with the retry
// headers the SDK reads, while a live client still gets the reserve.
//
// Process handling is in harness.mjs (env: SWITCHYARD_BIN, MOCK_LLM_BIN, E2E_VERBOSE).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import OpenAI from 'openai';

import {
  assertNoProblems, expectError, startGateway, startMock, stopChild, stopGateway,
} from './harness.mjs';

function gatewayConfig(mockPort) {
  return `listen: 127.0.0.1:0
workers: 1
timeouts: { first_byte: 10s, drain: 5s, drain_grace: 0s }
upstreams:
  - { name: mock, base_url: "http://127.0.0.1:${mockPort}/v1", api_key: sk-upstream }
models:
  - { name: gpt-4o-mini, upstream: mock }
rate_limits:
  - { scope: api_key, requests_per_minute: 10, batch_reserve: 0.2 }
log: { level: info, access: off }
`;
}

const MESSAGES = [{ role: 'user', content: 'Say something deterministic.' }];

describe('batch priority through the openai SDK', () => {
  let mock;
  let gateway;

  before(async () => {
    mock = await startMock();
    gateway = await startGateway(gatewayConfig(mock.port));
  });

  after(async () => {
    assertNoProblems([await stopGateway(gateway), await stopChild(mock.child)]);
  });

  test('batch stops at the reserve, live traffic still passes', async () => {
    const common = { apiKey: 'sk-client', baseURL: gateway.baseURL, maxRetries: 0, timeout: 10_000 };
    const batch = new OpenAI({ ...common, defaultHeaders: { 'x-switchyard-priority': 'batch' } });
    const live = new OpenAI(common);
    for (let i = 0; i < 8; i++) {
      const r = await batch.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES });
      assert.equal(r.object, 'chat.completion', `batch request ${i}`);
    }
    const refused = await expectError(
      () => batch.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES }),
      OpenAI.RateLimitError);
    assert.equal(refused.status, 429);
    assert.equal(refused.code, 'rate_limit_exceeded');
    assert.ok(Number(refused.headers.get('retry-after')) >= 1, 'retry-after');
    assert.ok(Number(refused.headers.get('retry-after-ms')) > 0, 'retry-after-ms');
    assert.equal(refused.headers.get('x-ratelimit-limit-requests'), '10');
    // The reserve (2 of 10) is the live client's.
    for (let i = 0; i < 2; i++) {
      const r = await live.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES });
      assert.equal(r.object, 'chat.completion', `live request ${i}`);
    }
    await expectError(
      () => live.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES }),
      OpenAI.RateLimitError);
  });
});
