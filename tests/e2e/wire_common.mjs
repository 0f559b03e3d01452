// What the wire suites share: the gateway config in front of the replay server, the request a
// client sends for a fixture, and per-request ids for the access log.

import { randomUUID } from 'node:crypto';

import { EXPECTED, fixtureKind } from './replay_upstream.mjs';

export const PRICE_IN = 1; // USD per million prompt tokens (see the config)
export const PRICE_OUT = 2;

export function gatewayConfig(port) {
  return `listen: 127.0.0.1:0
workers: 1
timeouts: { first_byte: 10s, drain: 5s }
retry: { max_attempts: 2, base: 10ms, cap: 50ms }
upstreams:
  - { name: replay, base_url: "http://127.0.0.1:${port}/v1", api_key: sk-upstream,
      breaker: { enabled: false } }
models:
  - { name: replay-chat, upstream: replay,
      price: { input_per_mtok: ${PRICE_IN}, output_per_mtok: ${PRICE_OUT} } }
  - { name: replay-embed, upstream: replay,
      price: { input_per_mtok: ${PRICE_IN}, output_per_mtok: ${PRICE_OUT} } }
log: { level: warn, access: stdout }
`;
}

export const STREAMS = Object.keys(EXPECTED).filter((f) => f.endsWith('.sse'));
export const BODIES = Object.keys(EXPECTED).filter((f) => f.endsWith('.json') && !/error/.test(f));

/** Path and request body the client sends for a fixture. */
export function requestFor(file, { stream, includeUsage } = {}) {
  const kind = /embeddings/.test(file) ? 'embedding' : fixtureKind(file);
  const body = kind === 'embedding'
    ? { model: 'replay-embed', input: ['a', 'b'],
      ...(/base64/.test(file) ? { encoding_format: 'base64' } : {}) }
    : kind === 'completion'
      ? { model: 'replay-chat', prompt: 'Say this is a test' }
      : { model: 'replay-chat', messages: [{ role: 'user', content: 'Hi' }] };
  if (stream) {
    body.stream = true;
    if (includeUsage) body.stream_options = { include_usage: true };
  }
  const path = { embedding: '/embeddings', completion: '/completions',
    chat: '/chat/completions' }[kind];
  return { path, body };
}

export const newId = (label) => `wire-${label}-${randomUUID()}`;
