// Two OpenAI-compatible servers nobody on this project wrote, from npm, as upstreams:
//   - @dwmkerr/mock-llm (express; rule-driven echo server that streams in timed chunks),
//   - steady (@stdy/cli; the OpenAPI-driven mock openai-node's own tests run against), on the
//     OpenAI spec, a copy of which is kept in tests/fixtures/openai-openapi/ (its README says which
//     commit; env OPENAI_OPENAPI_SPEC overrides), so that a clean checkout needs nothing beside it.
// The same calls by real clients, directly and through switchyard, must agree; streams must stay
// incremental; and every request the gateway forwards must be valid against the OpenAI spec.
// Neither server can report a port it bound on 0, so each gets a free loopback port chosen here.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Child, SHUTDOWN_TIMEOUT_MS, STARTUP_TIMEOUT_MS, assertNoProblems } from './harness.mjs';
import { clientsFor, outcome } from './clients.mjs';
import { freePort, rawRequest, startLoggedGateway } from './e2e_util.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.join(here, 'node_modules', '.bin');
const SPEC = process.env.OPENAI_OPENAPI_SPEC ||
  path.resolve(here, '../fixtures/openai-openapi/openapi.yaml');

const CHUNK_INTERVAL_MS = 40;

function gatewayConfig(upstreams) {
  return `listen: 127.0.0.1:0
workers: 1
timeouts: { first_byte: 10s, drain: 5s }
retry: { max_attempts: 2, base: 10ms, cap: 50ms }
upstreams:
${upstreams.map(([name, url]) => `  - { name: ${name}, base_url: "${url}", api_key: sk-upstream,
      breaker: { enabled: false } }`).join('\n')}
models:
  - { name: mockllm-chat, upstream: mockllm }
  - { name: steady-chat, upstream: steady }
  - { name: steady-embed, upstream: steady }
log: { level: warn, access: stdout }
`;
}

const MOCK_LLM_CONFIG = `streaming:
  chunkSize: 6
  chunkIntervalMs: ${CHUNK_INTERVAL_MS}
rules:
  - path: "/v1/chat/completions"
    method: "POST"
    match: "@"
    response:
      status: 200
      content: |
        {
          "id": "chatcmpl-mockllm",
          "object": "chat.completion",
          "created": 1736000000,
          "model": "{{jmes request body.model}}",
          "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": "{{jmes request body.messages[-1].content}}" },
            "finish_reason": "stop"
          }],
          "usage": { "prompt_tokens": 7, "completion_tokens": 9, "total_tokens": 16 }
        }
  - path: "/v1/chat/completions"
    method: "POST"
    match: "contains(body.messages[-1].content, 'error-429')"
    response:
      status: 429
      content: |
        { "error": { "message": "Rate limit reached for requests", "type": "requests",
                     "param": null, "code": "rate_limit_exceeded" } }
  - path: "/v1/chat/completions"
    method: "POST"
    match: "contains(body.messages[-1].content, 'error-401')"
    response:
      status: 401
      content: |
        { "error": { "message": "Incorrect API key provided.", "type": "invalid_request_error",
                     "param": null, "code": "invalid_api_key" } }
`;

/** Stops a third-party server; they exit by the SIGTERM default action, which is fine. */
async function stopThirdParty(child) {
  if (!child) return null;
  try {
    const { code, signal, error } = await child.stop(SHUTDOWN_TIMEOUT_MS);
    if (error || (code !== 0 && signal !== 'SIGTERM')) {
      return `${child.name} exited with code ${code}, signal ${signal}; output:\n${child.tail()}`;
    }
    return null;
  } catch (e) {
    return e.message;
  }
}

async function startThirdParty(name, bin, args, env, readyPattern) {
  const port = await freePort();
  const child = new Child(name, path.join(BIN, bin), args(port), { ...process.env, ...env(port) });
  try {
    await child.waitForLine('stdout', readyPattern, STARTUP_TIMEOUT_MS);
    return { child, port };
  } catch (e) {
    await stopThirdParty(child);
    throw e;
  }
}

const LONG_PROMPT = 'The quick brown fox jumps over the lazy dog, then naps in the sun.';

describe('third-party upstreams from npm', () => {
  let dir;
  let mockllm;
  let steady;
  let g;

  before(async () => {
    assert.ok(fs.existsSync(SPEC), `the OpenAI spec is missing at ${SPEC} (set OPENAI_OPENAPI_SPEC)`);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-3p-'));
    fs.writeFileSync(path.join(dir, 'mock-llm.yaml'), MOCK_LLM_CONFIG);
    [mockllm, steady] = await Promise.all([
      startThirdParty('mock-llm', 'mock-llm', () => ['--config', path.join(dir, 'mock-llm.yaml')],
        (port) => ({ HOST: '127.0.0.1', PORT: String(port) }), /server running on/),
      startThirdParty('steady', 'steady',
        (port) => ['-q', '--no-color', '-p', String(port), '--host', '127.0.0.1', SPEC],
        // Under CI=true steady prints GitHub-style annotations and no "Ready" line.
        () => ({ NO_COLOR: '1' }), /Ready to accept requests|Server listening at/),
    ]);
    g = await startLoggedGateway(gatewayConfig([
      ['mockllm', `http://127.0.0.1:${mockllm.port}/v1`],
      ['steady', `http://127.0.0.1:${steady.port}`],
    ]));
  });
  after(async () => {
    assertNoProblems([await g?.stop(), await stopThirdParty(mockllm?.child),
      await stopThirdParty(steady?.child)]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('@dwmkerr/mock-llm', () => {
    const clients = (base) => clientsFor(base, { chatModel: 'mockllm-chat', prompt: LONG_PROMPT });
    for (const [i, name] of ['openai', 'ai-sdk/openai', 'ai-sdk/openai-compatible', 'langchain']
      .entries()) {
      for (const stream of [false, true]) {
        test(`${name} ${stream ? 'stream' : 'non-stream'}: same result, incremental`, async () => {
          const sides = {};
          for (const [side, base] of [['direct', `http://127.0.0.1:${mockllm.port}/v1`],
            ['gateway', g.baseURL]]) {
            const arrivals = [];
            const c = clients(base)[i];
            const result = await outcome(() => c.chat({ stream,
              onFirst: () => arrivals.push(performance.now()),
              onChunk: () => arrivals.push(performance.now()) }));
            sides[side] = { result, arrivals };
          }
          assert.ok(sides.direct.result.ok, JSON.stringify(sides.direct.result));
          assert.deepEqual(sides.gateway.result, sides.direct.result);
          assert.equal(sides.gateway.result.value.text, LONG_PROMPT);
          if (stream) {
            // ~11 chunks 40 ms apart: a gateway that buffers delivers them all at once.
            const span = (a) => a.at(-1) - a[0];
            assert.ok(span(sides.gateway.arrivals) > 4 * CHUNK_INTERVAL_MS,
              `chunks arrived within ${span(sides.gateway.arrivals).toFixed(0)} ms through the ` +
              `gateway (direct: ${span(sides.direct.arrivals).toFixed(0)} ms)`);
          }
        });
      }
      // Streamed, mock-llm sends errors as 200 with one `data: {"error": …}` event.
      for (const [status, stream] of [[401, false], [429, false], [401, true], [429, true]]) {
        test(`${name} error ${status}${stream ? ' (stream)' : ''}: same class, status and ` +
             'message', async () => {
          const sides = {};
          for (const [side, base] of [['direct', `http://127.0.0.1:${mockllm.port}/v1`],
            ['gateway', g.baseURL]]) {
            const c = clientsFor(base, { chatModel: 'mockllm-chat', prompt: `error-${status}` })[i];
            sides[side] = await outcome(() => c.chat({ stream }));
          }
          assert.equal(sides.direct.ok, false);
          assert.deepEqual(sides.gateway, sides.direct);
        });
      }
    }
  });

  describe('steady (OpenAPI mock)', () => {
    const direct = () => `http://127.0.0.1:${steady.port}`;
    for (const [i, name] of ['openai', 'ai-sdk/openai', 'ai-sdk/openai-compatible', 'langchain']
      .entries()) {
      test(`${name} non-stream chat: same result`, async () => {
        const a = await outcome(() => clientsFor(direct(), { chatModel: 'steady-chat' })[i]
          .chat({ stream: false }));
        const b = await outcome(() => clientsFor(g.baseURL, { chatModel: 'steady-chat' })[i]
          .chat({ stream: false }));
        assert.deepEqual(b, a);
      });
      test(`${name} embeddings (float): same vectors`, async () => {
        // steady answers one generated vector whatever the input count, which LangChain's
        // embedDocuments rejects: then both sides must fail the same way.
        const a = await outcome(() => clientsFor(direct(), { embedModel: 'steady-embed' })[i]
          .embed({ format: 'float' }));
        const b = await outcome(() => clientsFor(g.baseURL, { embedModel: 'steady-embed' })[i]
          .embed({ format: 'float' }));
        if (name !== 'langchain') assert.ok(a.ok, JSON.stringify(a));
        assert.deepEqual(b, a);
      });
    }

    for (const [label, body] of [
      ['chat', { model: 'steady-chat', messages: [{ role: 'user', content: 'Hi' }] }],
      ['chat, stream (include_usage injected)', { model: 'steady-chat', stream: true,
        messages: [{ role: 'user', content: 'Hi' }] }],
      ['chat with tools', { model: 'steady-chat', messages: [{ role: 'user', content: 'Hi' }],
        tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }] }],
    ]) {
      test(`what the gateway forwards is valid against the OpenAI spec: ${label}`, async () => {
        const res = await rawRequest(`${g.baseURL}/chat/completions`, { body });
        assert.equal(res.headers['x-steady-request-valid'], 'true',
          `steady found the forwarded request invalid: ${res.status} ${res.body.toString().slice(0, 400)}`);
      });
    }
  });
});
