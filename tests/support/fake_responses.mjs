// A fake OpenAI Responses API on 127.0.0.1 (port 0): POST /v1/responses (stream and not) and
// GET /v1/models, replaying public recordings byte for byte so that a test can compare what a
// client reads directly from it with what it reads through the gateway (pass-through route).
// No dependencies beyond node:http.
//
// Sources (tests/fixtures/providers/responses/SOURCES.md):
//   - streams: the AI SDK's recorded OpenAI streams (aisdk_openai_*.chunks.txt, one JSON event a
//     line), framed as OpenAI frames them: `event: <type>\ndata: <the line, unchanged>\n\n`;
//   - bodies: the examples of OpenAI's OpenAPI spec (openapi_examples.json: "Text input",
//     "Functions", "Reasoning"), and the final `response` of a recorded stream for the custom tool.
//
// What a request gets is chosen from the request itself (no side channel):
//   - no bearer token → 401; a body that is not JSON or has no `model` → 400 (OpenAI's shape);
//   - model "quota" → a stream that fails (`error` then `response.failed`, recorded) / a 429;
//   - model "rate-limited" → 429 with retry-after; "server-error" → 500;
//   - a `custom` tool → the custom tool stream / body; a `function` tool → the function call
//     stream (recorded with reasoning first when `reasoning` is set) / the "Functions" body;
//   - `reasoning` without tools → the "Reasoning" body (non-stream); otherwise the text stream /
//     the "Text input" body.
// Every answer has an `x-request-id` header; `fake.requests` records method, path, headers, body.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const RESPONSES_FIXTURES = path.resolve(here, '../fixtures/providers/responses');
const MAX_BODY_BYTES = 8 << 20;

function lines(name) {
  return fs.readFileSync(path.join(RESPONSES_FIXTURES, name), 'utf8').split('\n')
    .filter((l) => l.trim() !== '');
}

/** The recorded streams, each a list of JSON lines exactly as recorded. */
function recordedStreams() {
  // The reasoning fixture holds four streams back to back, each starting at response.created.
  const streams = [];
  for (const line of lines('aisdk_openai_reasoning_encrypted_content.chunks.txt')) {
    if (JSON.parse(line).type === 'response.created') streams.push([]);
    streams.at(-1).push(line);
  }
  return {
    reasoning_function: streams[0], // reasoning summary, then one function call
    function: streams[1], // one function call
    text: streams[3], // one message ("The final result is **570**.")
    custom: lines('aisdk_openai_custom_tool.chunks.txt'),
    failed: lines('aisdk_openai_error.chunks.txt'),
  };
}
export const STREAMS = recordedStreams();

/** A recorded stream as SSE bytes: one `event:` + `data:` block per recorded line. */
export function streamBytes(name) {
  return STREAMS[name].map((l) => `event: ${JSON.parse(l).type}\ndata: ${l}\n\n`).join('');
}

/** The SSE events of a recorded stream, one string each (for writes per event). */
export function streamEvents(name) {
  return STREAMS[name].map((l) => `event: ${JSON.parse(l).type}\ndata: ${l}\n\n`);
}

const EXAMPLES = JSON.parse(fs.readFileSync(path.join(RESPONSES_FIXTURES, 'openapi_examples.json'),
  'utf8'));
const example = (title) => EXAMPLES.find((e) => e.title === title).response;

/** The non-stream bodies, as the bytes the fake sends. */
export const BODIES = {
  text: JSON.stringify(example('Text input')),
  function: JSON.stringify(example('Functions')),
  reasoning: JSON.stringify(example('Reasoning')),
  custom: JSON.stringify(JSON.parse(STREAMS.custom.at(-1)).response),
};

/** The final Response object of a recorded stream (its terminal event's `response`). */
export function finalResponse(name) {
  return JSON.parse(STREAMS[name].at(-1)).response;
}

function errorBody(message, type, code = null, param = null) {
  return JSON.stringify({ error: { message, type, param, code } });
}

/** Which recording a request gets: { stream, body }. */
export function pick(body) {
  const tools = Array.isArray(body.tools) ? body.tools : [];
  if (tools.some((t) => t?.type === 'custom')) return { stream: 'custom', body: 'custom' };
  if (tools.some((t) => t?.type === 'function')) {
    return { stream: body.reasoning ? 'reasoning_function' : 'function', body: 'function' };
  }
  return { stream: 'text', body: body.reasoning ? 'reasoning' : 'text' };
}

/**
 * Starts the fake. Resolves to { port, baseURL (ends in /v1), requests, close() }.
 * @param {{ fixed?: string }} [options] `fixed`: answer every request with this recording (a key
 *   of STREAMS / BODIES), e.g. 'text' for agents such as Codex that always send tools
 */
export async function startFakeResponses(options = {}) {
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
      res.setHeader('x-request-id', `req_fake_${++counter}`);
      const send = (status, body, headers = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(body);
      };
      if (size > MAX_BODY_BYTES) return send(413, errorBody('Request too large', 'invalid_request_error'));
      if (!/^Bearer\s+\S+/i.test(req.headers.authorization ?? '')) {
        return send(401, errorBody('You didn\'t provide an API key.', 'invalid_request_error'));
      }
      if (req.method === 'GET' && url.pathname === '/v1/models') {
        return send(200, JSON.stringify({ object: 'list', data: [
          { id: 'gpt-5.4', object: 'model', created: 1741290958, owned_by: 'openai' }] }));
      }
      if (req.method !== 'POST' || url.pathname !== '/v1/responses') {
        return send(404, errorBody(`Invalid URL (${req.method} ${url.pathname})`,
          'invalid_request_error'));
      }
      let body;
      try {
        body = JSON.parse(raw);
      } catch {
        return send(400, errorBody('We could not parse the JSON body of your request.',
          'invalid_request_error'));
      }
      if (typeof body !== 'object' || body === null || typeof body.model !== 'string') {
        return send(400, errorBody('Missing required parameter: \'model\'.',
          'invalid_request_error', 'missing_required_parameter', 'model'));
      }
      if (body.model === 'rate-limited') {
        return send(429, errorBody('Rate limit reached for requests', 'requests',
          'rate_limit_exceeded'), { 'retry-after': '1' });
      }
      if (body.model === 'server-error') {
        return send(500, errorBody('The server had an error while processing your request.',
          'server_error'));
      }
      const choice = options.fixed ? { stream: options.fixed, body: options.fixed } : pick(body);
      if (!body.stream) {
        if (body.model === 'quota') {
          return send(429, errorBody('You exceeded your current quota, please check your plan ' +
            'and billing details.', 'insufficient_quota', 'insufficient_quota'));
        }
        return send(200, BODIES[choice.body]);
      }
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache' });
      for (const e of streamEvents(body.model === 'quota' ? 'failed' : choice.stream)) res.write(e);
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
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
