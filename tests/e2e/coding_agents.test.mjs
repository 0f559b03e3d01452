// One real turn of each coding agent from npm, offline, in print/exec mode, once directly against
// a fake upstream and once through the gateway; both must end with the same answer.
//   - Claude Code (@anthropic-ai/claude-code, a native binary from its platform package):
//     `claude -p hi --output-format json` with ANTHROPIC_BASE_URL (no /v1, as its gateway docs
//     say) → /v1/messages on the gateway's Messages ingress → a `type: anthropic` upstream that
//     answers every request with the SDK's text stream (sdk_stream_basic.sse).
//   - Codex CLI (@openai/codex, a native binary from its platform package): `codex exec --json`
//     with a custom model provider (`wire_api = "responses"`, base_url = the gateway's /v1) →
//     /v1/responses passed through to a Responses upstream answering the recorded text stream.
// Both agents always send tools; the fakes answer text so that one turn ends the run. No network:
// the agents' non-essential traffic is switched off, and nothing else is reachable anyway.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { assertNoProblems } from './harness.mjs';
import { startLoggedGateway } from './e2e_util.mjs';
import { anthropicFixture } from '../support/fake_anthropic.mjs';
import { finalResponse, startFakeResponses } from '../support/fake_responses.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const RUN_TIMEOUT_MS = 120_000;

/** The agent's native binary: the platform package's, which the wrapper's postinstall copies. */
function binary(pkg, name) {
  const platform = `${process.platform}-${process.arch}`;
  const candidates = [
    path.join(here, 'node_modules', '.bin', name),
    path.join(here, 'node_modules', `${pkg}-${platform}`, name),
  ];
  const found = candidates.find((f) => {
    try {
      fs.accessSync(f, fs.constants.X_OK);
      return fs.statSync(f).size > 1_000_000 || name === 'codex'; // not the placeholder stub
    } catch {
      return false;
    }
  });
  assert.ok(found, `${pkg} is not installed (npm ci in tests/e2e): tried ${candidates.join(', ')}`);
  return found;
}

/** Runs `bin args` with `env` (nothing inherited but PATH); bounded. Resolves { code, stdout, stderr }. */
function run(bin, args, env, cwd) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd, env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(bin)} did not finish within ${RUN_TIMEOUT_MS} ms; ` +
        `stdout:\n${stdout.slice(-2000)}\nstderr:\n${stderr.slice(-2000)}`));
    }, RUN_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * A Messages upstream answering every /v1/messages with the SDK's text stream (or the docs' text
 * message when not streamed), count_tokens with a count and /v1/models with one model.
 */
async function startTextAnthropic() {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method, path: req.url.split('?')[0], headers: req.headers, body });
      res.setHeader('request-id', `req_text_${requests.length}`);
      const json = (status, o) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(typeof o === 'string' || Buffer.isBuffer(o) ? o : JSON.stringify(o));
      };
      const p = req.url.split('?')[0];
      if (req.method === 'GET' && p === '/v1/models') {
        return json(200, { data: [{ type: 'model', id: 'claude-sonnet-4-5',
          display_name: 'Claude Sonnet 4.5', created_at: '2025-09-29T00:00:00Z' }],
        has_more: false, first_id: 'claude-sonnet-4-5', last_id: 'claude-sonnet-4-5' });
      }
      if (req.method === 'POST' && p === '/v1/messages/count_tokens') {
        return json(200, { input_tokens: Math.ceil(body.length / 4) });
      }
      if (req.method !== 'POST' || p !== '/v1/messages') {
        return json(404, { type: 'error', error: { type: 'not_found_error', message: 'Not found' } });
      }
      let stream = false;
      try {
        stream = JSON.parse(body).stream === true;
      } catch {
        return json(400, { type: 'error', error: { type: 'invalid_request_error',
          message: 'invalid JSON' } });
      }
      if (!stream) return json(200, anthropicFixture('docs_message_text.json'));
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.end(anthropicFixture('sdk_stream_basic.sse'));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    root: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    }),
  };
}

function config(anthropicPort, responsesPort) {
  const price = 'price: { input_per_mtok: 1, output_per_mtok: 2 }';
  return `listen: 127.0.0.1:0
workers: 1
timeouts: { first_byte: 30s, drain: 5s }
limits: { max_body_bytes: 8388608 }
upstreams:
  - { name: anthropic, type: anthropic, base_url: "http://127.0.0.1:${anthropicPort}/v1",
      api_key: sk-ant-upstream, breaker: { enabled: false } }
  - { name: openai, base_url: "http://127.0.0.1:${responsesPort}/v1", api_key: sk-openai-upstream,
      apis: [chat, responses], breaker: { enabled: false } }
models:
  - { name: claude-sonnet-4-5, upstream: anthropic, ${price} }
  - { name: claude-haiku-4-5, upstream: anthropic, ${price} }
  - { name: gpt-5.4, upstream: openai, ${price} }
log: { level: warn, access: stdout }
`;
}

describe('coding agents, one turn each, direct and through the gateway', () => {
  let anthropic;
  let responses;
  let g;
  let tmp;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-agents-'));
    anthropic = await startTextAnthropic();
    responses = await startFakeResponses({ fixed: 'text' });
    g = await startLoggedGateway(config(anthropic.port, responses.port));
  });
  after(async () => {
    const problems = [await g?.stop()];
    await anthropic?.close();
    await responses?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
    assertNoProblems(problems);
  });

  async function claude(baseURL, label) {
    const home = path.join(tmp, `claude-home-${label}`);
    fs.mkdirSync(home, { recursive: true });
    const before = anthropic.requests.length;
    const r = await run(binary('@anthropic-ai/claude-code', 'claude'),
      ['-p', 'hi', '--output-format', 'json', '--model', 'claude-sonnet-4-5'], {
        HOME: home,
        ANTHROPIC_BASE_URL: baseURL,
        ANTHROPIC_API_KEY: 'sk-ant-client',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        DISABLE_TELEMETRY: '1',
        DISABLE_AUTOUPDATER: '1',
        DISABLE_ERROR_REPORTING: '1',
        MAX_THINKING_TOKENS: '0',
      }, home);
    let out;
    try {
      out = JSON.parse(r.stdout);
    } catch {
      assert.fail(`${label}: claude printed no JSON (exit ${r.code}); stdout:\n${r.stdout}\n` +
        `stderr:\n${r.stderr}`);
    }
    return { r, out, requests: anthropic.requests.slice(before) };
  }

  test('Claude Code: `claude -p` through /v1/messages', async () => {
    const direct = await claude(anthropic.root, 'direct');
    assert.equal(direct.r.code, 0, `direct (setup): ${direct.r.stdout}\n${direct.r.stderr}`);
    const via = await claude(g.root, 'gateway');
    assert.equal(via.r.code, 0, `through the gateway: ${via.r.stdout}\n${via.r.stderr}`);
    assert.equal(via.out.is_error, false, JSON.stringify(via.out));
    assert.equal(via.out.result, direct.out.result);
    assert.equal(via.out.result, 'Hello there!');
    assert.deepEqual(via.out.usage?.output_tokens, direct.out.usage?.output_tokens);
    // What Claude Code sent reached the upstream with Anthropic's headers and the gateway's key.
    const sent = via.requests.filter((q) => q.path === '/v1/messages');
    assert.ok(sent.length >= 1, JSON.stringify(via.requests.map((q) => q.path)));
    const h = sent.at(-1).headers;
    assert.equal(h['x-api-key'], 'sk-ant-upstream');
    assert.equal(h['anthropic-version'], direct.requests.at(-1).headers['anthropic-version']);
    assert.equal(h['anthropic-beta'], direct.requests.at(-1).headers['anthropic-beta'],
      'anthropic-beta is passed through');
    assert.ok(h['x-claude-code-session-id'] === undefined ||
      h['x-claude-code-session-id'] === via.out.session_id);
    const rec = await g.waitForRecord((x) => x.path === '/v1/messages' ||
      x.endpoint === 'messages' || x.model === 'claude-sonnet-4-5');
    assert.equal(rec.completion_tokens, 6, JSON.stringify(rec)); // sdk_stream_basic.sse
  });

  test('Codex CLI: `codex exec` through /v1/responses', async () => {
    const text = finalResponse('text').output[0].content[0].text;
    const results = {};
    for (const [label, baseURL] of [['direct', responses.baseURL], ['gateway', g.baseURL]]) {
      const home = path.join(tmp, `codex-home-${label}`);
      const work = path.join(tmp, `codex-work-${label}`);
      fs.mkdirSync(home, { recursive: true });
      fs.mkdirSync(work, { recursive: true });
      fs.writeFileSync(path.join(home, 'config.toml'), `model = "gpt-5.4"
model_provider = "switchyard"
[model_providers.switchyard]
name = "switchyard"
base_url = "${baseURL}"
wire_api = "responses"
env_key = "SWITCHYARD_API_KEY"
`);
      const before = responses.requests.length;
      const r = await run(binary('@openai/codex', 'codex'),
        ['exec', '--skip-git-repo-check', '--json', 'say hi'],
        { HOME: home, CODEX_HOME: home, SWITCHYARD_API_KEY: label === 'direct' ? 'sk-openai-upstream'
          : 'sk-client' }, work);
      const events = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      const messages = events.filter((e) => e.type === 'item.completed' &&
        e.item?.type === 'agent_message').map((e) => e.item.text);
      results[label] = { r, events, messages, requests: responses.requests.slice(before) };
      assert.equal(r.code, 0, `${label}: exit ${r.code}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    }
    assert.deepEqual(results.gateway.messages, results.direct.messages);
    assert.deepEqual(results.gateway.messages, [text]);
    const turn = (e) => e.filter((x) => x.type === 'turn.completed').map((x) => x.usage);
    assert.deepEqual(turn(results.gateway.events), turn(results.direct.events));
    const sent = results.gateway.requests.filter((q) => q.path === '/v1/responses');
    assert.ok(sent.length >= 1);
    assert.equal(sent.at(-1).headers.authorization, 'Bearer sk-openai-upstream');
    const body = JSON.parse(sent.at(-1).body);
    assert.equal(body.store, false, 'Codex sends store: false');
    assert.equal(body.stream, true);
  });
});
