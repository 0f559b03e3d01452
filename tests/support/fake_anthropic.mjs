// A fake Anthropic Messages API on 127.0.0.1 (port 0) serving the wire fixtures of
// tests/fixtures/providers/anthropic (sources in its SOURCES.md): POST /v1/messages (stream and
// not), POST /v1/messages/count_tokens and GET /v1/models, with Anthropic's error shapes. For the
// e2e tests that put the official @anthropic-ai/sdk, and OpenAI clients through the gateway's
// translation, in front of it. No dependencies beyond node:http.
//
// What a request gets is chosen from the request itself, so a test needs no side channel:
//   - missing `x-api-key` (or bearer token) or `anthropic-version` → 401 authentication_error /
//     400 invalid_request_error, as the real API;
//   - a body that is not JSON, or without `model`, `max_tokens` or `messages` → 400;
//   - model "overloaded" → 529 overloaded_error; "rate-limited" → 429 with retry-after;
//     "mid-stream-error" → a stream that ends in an `error` event; "cut-<n>" → a stream whose
//     connection is destroyed after n events (no message_stop);
//   - otherwise `thinking` → the thinking stream / message, `tools` → the tool_use ones, else the
//     plain text ones.
// Every answer has a `request-id` header; `fake.requests` records method, path, headers, body.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ANTHROPIC_FIXTURES = path.resolve(here, '../fixtures/providers/anthropic');
const MAX_BODY_BYTES = 32 << 20; // the API's own limit for Messages (docs: errors page)

/** The bytes of a fixture file. */
export function anthropicFixture(name) {
  return fs.readFileSync(path.join(ANTHROPIC_FIXTURES, name));
}

/** The SSE events (blank-line separated blocks, LF endings as the fixtures have) of a file. */
export function fixtureEvents(name) {
  return anthropicFixture(name).toString('utf8').split('\n\n').filter((b) => b.trim() !== '')
    .map((b) => `${b}\n\n`);
}

function errorBody(type, message) {
  return JSON.stringify({ type: 'error', error: { type, message }, request_id: 'req_fake' });
}

function pick(body) {
  if (body.thinking) {
    return { stream: 'sdk_stream_thinking_refusal.sse', message: 'docs_message_thinking.json' };
  }
  if (Array.isArray(body.tools) && body.tools.length > 0) {
    return { stream: 'sdk_stream_tool_use.sse', message: 'sdk_message_tool_use.json' };
  }
  return { stream: 'sdk_stream_basic.sse', message: 'docs_message_text.json' };
}

// A rough count, stable for a given body: what count_tokens answers (the real tokenizer is not
// public; tests assert the shape and that the gateway relays the number, not the value).
function countTokens(body) {
  const text = JSON.stringify([body.system ?? '', body.messages ?? [], body.tools ?? []]);
  return Math.max(1, Math.ceil(text.length / 4));
}

/**
 * Starts the fake. Resolves to { port, baseURL, requests, close() }.
 * @param {{ apiKey?: string }} [options] the key it accepts (any non-empty key when unset)
 */
export async function startFakeAnthropic(options = {}) {
  const requests = [];
  let counter = 0;
  const sockets = new Set();

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
      requests.push({ method: req.method, path: url.pathname, headers: req.headers, body: raw });
      res.setHeader('request-id', `req_fake_${++counter}`);
      const send = (status, body, headers = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(body);
      };
      if (size > MAX_BODY_BYTES) {
        return send(413, errorBody('request_too_large', 'Request exceeds the maximum size'));
      }
      const key = req.headers['x-api-key'] ??
        (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
      if (!key || (options.apiKey && key !== options.apiKey)) {
        return send(401, errorBody('authentication_error', 'invalid x-api-key'));
      }
      if (req.method === 'GET' && url.pathname === '/v1/models') {
        const data = ['claude-opus-4-8', 'claude-sonnet-4-5'].map((id) => ({
          type: 'model', id, display_name: id, created_at: '2025-09-29T00:00:00Z',
        }));
        return send(200, JSON.stringify({ data, has_more: false, first_id: data[0].id,
          last_id: data[data.length - 1].id }));
      }
      if (req.method !== 'POST' ||
          (url.pathname !== '/v1/messages' && url.pathname !== '/v1/messages/count_tokens')) {
        return send(404, errorBody('not_found_error', 'Not found'));
      }
      if (!req.headers['anthropic-version']) {
        return send(400, errorBody('invalid_request_error',
          'anthropic-version: header is required'));
      }
      let body;
      try {
        body = JSON.parse(raw);
      } catch {
        return send(400, errorBody('invalid_request_error', 'There was an issue with the format ' +
          'or content of your request: the body is not valid JSON'));
      }
      if (typeof body !== 'object' || body === null || typeof body.model !== 'string' ||
          !Array.isArray(body.messages)) {
        return send(400, errorBody('invalid_request_error', 'model and messages are required'));
      }
      if (url.pathname === '/v1/messages/count_tokens') {
        return send(200, JSON.stringify({ input_tokens: countTokens(body) }));
      }
      if (!Number.isInteger(body.max_tokens)) {
        return send(400, errorBody('invalid_request_error', 'max_tokens: Field required'));
      }
      if (body.model === 'overloaded') {
        return send(529, anthropicFixture('sdk_error_529_overloaded.json'),
          { 'x-should-retry': 'true' });
      }
      if (body.model === 'rate-limited') {
        return send(429, errorBody('rate_limit_error', 'Number of requests has exceeded your ' +
          'rate limit'), { 'retry-after': '1' });
      }
      const choice = pick(body);
      if (!body.stream) {
        return send(200, anthropicFixture(choice.message));
      }
      let events = fixtureEvents(choice.stream);
      let cut = false;
      if (body.model === 'mid-stream-error') {
        events = fixtureEvents('stream_error_overloaded.sse');
      } else if (/^cut-\d+$/.test(body.model)) {
        events = events.slice(0, Number(body.model.slice(4)));
        cut = true;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      for (const e of events) res.write(e);
      if (cut) {
        res.socket.destroySoon(); // the client sees the body end without message_stop
      } else {
        res.end();
      }
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
    baseURL: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
