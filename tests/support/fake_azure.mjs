// A fake Azure OpenAI resource on 127.0.0.1 (port 0), checking requests as Azure does and
// answering with Azure's shapes: tests/fixtures/wire/azure_chat{.json,_stream.sse} for chat and
// tests/fixtures/providers/azure (sources in its SOURCES.md) for embeddings, errors and the
// content filter. For the e2e tests that compare the official `openai` SDK through the gateway
// (a `type: azure` upstream) with the SDK's own AzureOpenAI client against the same fake.
// No dependencies beyond node:http.
//
// Routes (Azure OpenAI REST reference):
//   POST /openai/deployments/{deployment}/chat/completions?api-version=…
//   POST /openai/deployments/{deployment}/embeddings?api-version=…
//   POST /openai/v1/chat/completions, /openai/v1/embeddings (v1 API: deployment = body `model`,
//        no api-version)
// Checks, in Azure's order: a credential (`api-key`, or `Authorization: Bearer` for an Entra
// token) equal to the fake's key → else 401 with Azure's body; a known path → else 404
// "Resource not found"; api-version present and one the fake knows → else 404 / 400; the
// deployment known → else 404 DeploymentNotFound.
// What a chat request gets is chosen from the last message's text, so a test needs no side
// channel: "trigger-content-filter" → 400 content_filter; "filtered-stream" → the stream cut by
// the content filter (finish_reason content_filter); "rate-limit-once-<id>" → 429 (retry-after
// and retry-after-ms) the first time per id, then the normal answer; otherwise the fixture.
// Streams end with the usage chunk only when `stream_options.include_usage` is true, as Azure.
// `fake.requests` records method, path, query, headers and body of each request.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.resolve(here, '../fixtures');
const MAX_BODY_BYTES = 32 << 20;
const API_VERSIONS = new Set(['2024-06-01', '2024-10-21', '2025-04-01-preview']);

/** The bytes of an Azure fixture: providers/azure/<name>, or wire/<name> for azure_chat*. */
export function azureFixture(name) {
  const dir = name.startsWith('azure_chat') ? 'wire' : 'providers/azure';
  return fs.readFileSync(path.join(FIXTURES, dir, name));
}

function sseEvents(name) {
  return azureFixture(name).toString('utf8').split('\n\n').filter((b) => b.trim() !== '')
    .map((b) => `${b}\n\n`);
}

// The chunk include_usage adds: `choices: []` with a `usage` object.
function isUsageChunk(event) {
  const data = event.replace(/^data: /, '').trim();
  if (data === '[DONE]') return false;
  const j = JSON.parse(data);
  return Array.isArray(j.choices) && j.choices.length === 0 && typeof j.usage === 'object' &&
    j.usage !== null;
}

function azureError(code, message) {
  return JSON.stringify({ error: { code, message } });
}

// The text of the last message (string content or text parts).
function lastText(body) {
  const m = Array.isArray(body.messages) ? body.messages.at(-1) : undefined;
  if (!m) return '';
  if (typeof m.content === 'string') return m.content;
  return Array.isArray(m.content) ? m.content.map((p) => p?.text ?? '').join('') : '';
}

/**
 * Starts the fake. Resolves to { port, endpoint, requests, close() }: `endpoint` is what
 * AzureOpenAI's `endpoint` option and the gateway's `base_url` take (no /openai).
 * @param {{ apiKey?: string, deployments?: string[] }} [options]
 */
export async function startFakeAzure(options = {}) {
  const apiKey = options.apiKey ?? 'azure-test-key';
  const deployments = new Set(options.deployments ?? ['gpt4o-prod', 'embed-small']);
  const requests = [];
  const limited = new Set();
  const sockets = new Set();
  let counter = 0;

  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url, 'http://fake');
      requests.push({ method: req.method, path: url.pathname, query: url.search,
        headers: req.headers, body: raw });
      res.setHeader('apim-request-id', `fake-${++counter}`);
      res.setHeader('x-ms-region', 'Fake Region');
      const send = (status, body, headers = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(body);
      };
      if (size > MAX_BODY_BYTES) {
        return send(413, azureError('RequestEntityTooLarge', 'The request is too large'));
      }
      const bearer = (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
      if ((req.headers['api-key'] ?? bearer) !== apiKey) {
        return send(401, azureFixture('error_401.json'));
      }
      const deploymentRoute =
        /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/.exec(url.pathname);
      const v1Route = /^\/openai\/v1\/(chat\/completions|embeddings)$/.exec(url.pathname);
      if (req.method !== 'POST' || (!deploymentRoute && !v1Route)) {
        return send(404, azureError('404', 'Resource not found'));
      }
      const version = url.searchParams.get('api-version');
      if (deploymentRoute) {
        if (version === null) return send(404, azureError('404', 'Resource not found'));
        if (!API_VERSIONS.has(version)) {
          return send(400, azureError('BadRequest', 'API version not supported'));
        }
      }
      let body;
      try {
        body = JSON.parse(raw);
      } catch {
        return send(400, JSON.stringify({ error: { message: 'We could not parse the JSON body ' +
          'of your request.', type: 'invalid_request_error', param: null, code: null } }));
      }
      const deployment = deploymentRoute ? decodeURIComponent(deploymentRoute[1]) : body.model;
      if (!deployments.has(deployment)) {
        return send(404, azureFixture('error_404_deployment_not_found.json'));
      }
      const operation = (deploymentRoute ?? v1Route).at(-1);
      if (operation === 'embeddings') {
        return send(200, azureFixture('embeddings.json'));
      }
      const text = lastText(body);
      if (text.includes('trigger-content-filter')) {
        return send(400, azureFixture('error_400_content_filter.json'));
      }
      const once = /rate-limit-once-(\w+)/.exec(text);
      if (once && !limited.has(once[1])) {
        limited.add(once[1]);
        return send(429, azureFixture('error_429_rate_limit.json'),
          { 'retry-after': '1', 'retry-after-ms': '20' });
      }
      if (!body.stream) {
        return send(200, azureFixture('azure_chat.json'));
      }
      let events = sseEvents(text.includes('filtered-stream')
        ? 'chat_stream_content_filter.sse' : 'azure_chat_stream.sse');
      if (body.stream_options?.include_usage !== true) {
        // The usage chunk (`choices: []` with a `usage` object) is sent only when asked for.
        events = events.filter((e) => !isUsageChunk(e));
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      for (const e of events) res.write(e);
      res.end();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    apiKey,
    requests,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
