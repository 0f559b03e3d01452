// A scriptable fake upstream on a raw TCP socket (127.0.0.1, port 0) that replays the wire
// corpus (tests/fixtures/wire) with the framing, splits and interim responses a test asks for:
// chunked, Content-Length, close-delimited, HTTP/1.0, `Connection: close`, gzip, 1xx before the
// answer, bytes after the answer, any status code 100–999, a cut after N events, and a gate that
// holds the last piece until the test has seen the first one (incrementality without sleeps).
//
// Raw sockets rather than node:http because node:http refuses to write most of these (a 1xx
// before the answer with our own bytes, status 999, stray bytes after a response).

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const FIXTURE_DIR = path.resolve(here, '../fixtures/wire');
export const EXPECTED = JSON.parse(fs.readFileSync(path.join(FIXTURE_DIR, 'expected.json'), 'utf8'));

export const GATE_TIMEOUT_MS = 1_500; // how long a gated last piece waits for release()
const MAX_REQUEST_BYTES = 4 << 20;

/** The bytes of one corpus file. */
export function fixtureBytes(file) {
  return fs.readFileSync(path.join(FIXTURE_DIR, file));
}

/** "completion" for legacy-completions fixtures, "chat" otherwise. */
export function fixtureKind(file) {
  return /completions/.test(file) ? 'completion' : 'chat';
}

/** Byte offsets just after each SSE event terminator (blank line) of `bytes`. */
export function eventBoundaries(bytes) {
  const s = bytes.toString('latin1');
  const cuts = [];
  const re = /(\r\n|\r|\n)(\r\n|\r|\n)/g;
  let m;
  while ((m = re.exec(s))) {
    // "\r\n" split as "\r" + "\n" is one line ending, not two: only count real blank lines.
    if (m[1] === '\r' && m[2] === '\n') {
      re.lastIndex = m.index + 1;
      continue;
    }
    cuts.push(m.index + m[0].length);
    re.lastIndex = m.index + m[0].length;
  }
  return cuts;
}

/** A small deterministic PRNG (mulberry32) so "random" splits are reproducible by seed. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const REASONS = { 100: 'Continue', 103: 'Early Hints', 200: 'OK', 400: 'Bad Request',
  401: 'Unauthorized', 404: 'Not Found', 418: "I'm a teapot", 429: 'Too Many Requests',
  500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable',
  520: 'Unknown Error', 529: 'Site Overloaded', 999: 'Request Denied' };

/**
 * A response the replay server writes. Fields (all optional except body):
 *   body        Buffer | string | fixture file name (".sse"/".json" under tests/fixtures/wire)
 *   status      100–999 (200);           reason   the reason phrase (a default per status)
 *   headers     extra [name, value] pairs or an object
 *   framing     'chunked' | 'length' | 'close' | 'http10'   ('chunked' for .sse, else 'length')
 *   close       send `Connection: close` and close after the answer
 *   split       'events' (a write per SSE event; the default for .sse) | 'whole' |
 *               { random: seed, pieces: n } | number[] (byte offsets)
 *   delayMs     wait between writes (0)
 *   gate        hold the last piece until release() (bounded by GATE_TIMEOUT_MS)
 *   interim     1xx heads to send first, e.g. [100, [103, [['link', '</a>; rel=preload']]]]
 *   gzip        Content-Encoding: gzip (each piece flushed, so a stream stays incremental)
 *   after       bytes written after the answer on a kept-alive connection (afterDelayMs later)
 *   cutAfter    destroy the socket after this many pieces (a stream cut mid-way)
 *   contentType the Content-Type (text/event-stream for .sse, application/json otherwise)
 */
export async function startReplay() {
  const state = {
    scenario: null, // response spec, or (request, index) => spec
    requests: [],
    sockets: new Set(),
    gateWaiters: [],
    released: false,
    lastPieceAt: 0,
    firstPieceAt: 0,
    lastSent: false, // the latest response's last piece has been written
    afterWaiters: [],
    requestWaiters: [],
    closed: new Set(), // connection ids whose socket closed
    closeWaiters: new Map(), // connection id -> [resolve]
  };

  const server = net.createServer((socket) => {
    state.sockets.add(socket);
    const connectionId = `c${state.nextConnection = (state.nextConnection ?? 0) + 1}`;
    socket.on('close', () => {
      state.sockets.delete(socket);
      state.closed.add(connectionId);
      for (const w of state.closeWaiters.get(connectionId) ?? []) w();
      state.closeWaiters.delete(connectionId);
    });
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    let busy = false;
    const pump = async () => {
      if (busy) return;
      busy = true;
      try {
        for (;;) {
          const parsed = parseRequest(buf);
          if (!parsed) break;
          if (parsed.error) {
            socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
            return;
          }
          buf = buf.subarray(parsed.consumed);
          const request = { ...parsed.request, connectionId, at: performance.now() };
          const index = state.requests.length;
          state.requests.push(request);
          for (const w of state.requestWaiters.splice(0)) w();
          const spec = typeof state.scenario === 'function' ? state.scenario(request, index)
            : state.scenario;
          const keep = await respond(socket, spec ?? { status: 500, body: '{"error":"no scenario"}' },
            request, state);
          if (!keep) return;
        }
      } finally {
        busy = false;
      }
      if (buf.length && !socket.destroyed) pump();
    };
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length > MAX_REQUEST_BYTES) socket.destroy();
      else pump();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests: state.requests,
    /** Sets what the next requests get: a spec, or (request, index) => spec. */
    set(scenario) {
      state.scenario = scenario;
      state.released = false;
      state.gateWaiters = [];
    },
    /** Lets a gated last piece go. */
    release() {
      state.released = true;
      for (const w of state.gateWaiters.splice(0)) w();
    },
    /** Resolves true once `n` requests have arrived in all, false after `timeoutMs`. */
    async waitRequests(n, timeoutMs = GATE_TIMEOUT_MS) {
      const deadline = performance.now() + timeoutMs;
      while (state.requests.length < n) {
        const left = deadline - performance.now();
        if (left <= 0) return false;
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, left);
          state.requestWaiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return true;
    },
    /** Resolves when the connection `connectionId` (see requests[].connectionId) closes. */
    waitClosed(connectionId, timeoutMs = GATE_TIMEOUT_MS) {
      if (state.closed.has(connectionId)) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        const list = state.closeWaiters.get(connectionId) ?? [];
        list.push(() => {
          clearTimeout(timer);
          resolve(true);
        });
        state.closeWaiters.set(connectionId, list);
      });
    },
    /** Resolves once the `after` bytes of a response have been written (bounded). */
    afterWritten(timeoutMs = GATE_TIMEOUT_MS) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('after bytes never written')), timeoutMs);
        state.afterWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    /** Whether the latest response's last piece has been written yet. */
    lastSent: () => state.lastSent,
    /** performance.now() of the first and the last piece written for the latest response. */
    timings: () => ({ first: state.firstPieceAt, last: state.lastPieceAt }),
    clearRequests() {
      state.requests.length = 0;
    },
    async close() {
      for (const s of state.sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Request side: just enough HTTP/1.1 to read what the gateway (or a client) sends.

function parseRequest(buf) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return buf.length > 64 * 1024 ? { error: 'head too large' } : null;
  const head = buf.subarray(0, end).toString('latin1').split('\r\n');
  const [method, target, version] = head[0].split(' ');
  const headers = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) return { error: 'bad header' };
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let rest = buf.subarray(end + 4);
  let body;
  let consumed;
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts = [];
    let off = 0;
    for (;;) {
      const le = rest.indexOf('\r\n', off);
      if (le < 0) return null;
      const size = parseInt(rest.subarray(off, le).toString('latin1'), 16);
      if (Number.isNaN(size)) return { error: 'bad chunk' };
      if (rest.length < le + 2 + size + 2) return null;
      if (size === 0) {
        const te = rest.indexOf('\r\n\r\n', le);
        if (te < 0) return null;
        consumed = end + 4 + te + 4;
        break;
      }
      parts.push(rest.subarray(le + 2, le + 2 + size));
      off = le + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else {
    const len = Number(headers['content-length'] ?? 0);
    if (rest.length < len) return null;
    body = rest.subarray(0, len);
    consumed = end + 4 + len;
  }
  let json = null;
  try {
    json = body.length ? JSON.parse(body.toString('utf8')) : null;
  } catch {
    json = null;
  }
  return { consumed, request: { method, target, version, headers, body, json } };
}

// ---------------------------------------------------------------------------------------------
// Response side

function headerLines(pairs) {
  const list = Array.isArray(pairs) ? pairs : Object.entries(pairs ?? {});
  return list.map(([k, v]) => `${k}: ${v}\r\n`).join('');
}

function resolveBody(spec) {
  if (Buffer.isBuffer(spec.body)) return { bytes: spec.body, sse: !!spec.sse };
  if (typeof spec.body === 'string' && /^[a-z0-9_]+\.(sse|json)$/.test(spec.body)) {
    return { bytes: fixtureBytes(spec.body), sse: spec.body.endsWith('.sse') };
  }
  return { bytes: Buffer.from(spec.body ?? ''), sse: !!spec.sse };
}

function pieces(bytes, split, sse) {
  let cuts;
  if (Array.isArray(split)) cuts = split;
  else if (split === 'whole') cuts = [];
  else if (split && typeof split === 'object' && 'random' in split) {
    const rnd = prng(split.random);
    const n = Math.min(split.pieces ?? 8, Math.max(0, bytes.length - 1));
    const set = new Set();
    while (set.size < n) set.add(1 + Math.floor(rnd() * (bytes.length - 1)));
    cuts = [...set].sort((a, b) => a - b);
  } else cuts = sse ? eventBoundaries(bytes).slice(0, -1) : [];
  const out = [];
  let prev = 0;
  for (const c of cuts) {
    if (c > prev && c < bytes.length) {
      out.push(bytes.subarray(prev, c));
      prev = c;
    }
  }
  out.push(bytes.subarray(prev));
  return out.filter((p) => p.length > 0);
}

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function write(socket, data) {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(false);
    socket.write(data, () => resolve(true));
  });
}

/** Writes one response; resolves true when the connection stays usable for the next request. */
async function respond(socket, spec, request, state) {
  const { bytes, sse } = resolveBody(spec);
  const status = spec.status ?? 200;
  const reason = spec.reason ?? REASONS[status] ?? 'Unknown';
  const framing = spec.framing ?? (sse ? 'chunked' : 'length');
  const version = framing === 'http10' ? 'HTTP/1.0' : 'HTTP/1.1';
  const close = spec.close || framing === 'close' || framing === 'http10';
  const contentType = spec.contentType ?? (sse ? 'text/event-stream' : 'application/json');

  for (const interim of spec.interim ?? []) {
    const [code, hdrs] = Array.isArray(interim) ? interim : [interim, []];
    await write(socket, `${version} ${code} ${REASONS[code] ?? 'Interim'}\r\n${headerLines(hdrs)}\r\n`);
  }

  let parts = pieces(bytes, spec.split, sse);
  let gzip = null;
  if (spec.gzip) {
    gzip = zlib.createGzip();
    const compressed = [];
    for (const p of parts) {
      compressed.push(await new Promise((resolve) => {
        const chunks = [];
        const onData = (d) => chunks.push(d);
        gzip.on('data', onData);
        gzip.write(p);
        gzip.flush(zlib.constants.Z_SYNC_FLUSH, () => {
          gzip.off('data', onData);
          resolve(Buffer.concat(chunks));
        });
      }));
    }
    compressed.push(await new Promise((resolve) => {
      const chunks = [];
      gzip.on('data', (d) => chunks.push(d));
      gzip.on('end', () => resolve(Buffer.concat(chunks)));
      gzip.end();
    }));
    parts = compressed.filter((p) => p.length > 0);
  }
  const total = parts.reduce((n, p) => n + p.length, 0);

  let head = `${version} ${status} ${reason}\r\n`;
  head += `content-type: ${contentType}\r\n`;
  if (sse) head += 'cache-control: no-cache\r\n';
  if (gzip) head += 'content-encoding: gzip\r\n';
  if (framing === 'chunked') head += 'transfer-encoding: chunked\r\n';
  if (framing === 'length') head += `content-length: ${total}\r\n`;
  if (close && framing !== 'http10') head += 'connection: close\r\n';
  head += headerLines(spec.headers);
  head += '\r\n';
  await write(socket, head);

  for (const [i, p] of parts.entries()) {
    if (spec.cutAfter !== undefined && i >= spec.cutAfter) {
      socket.destroy();
      return false;
    }
    const last = i === parts.length - 1;
    if (last && spec.gate && parts.length > 1) {
      if (!state.released) {
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, GATE_TIMEOUT_MS);
          state.gateWaiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    } else if (i > 0 && spec.delayMs) {
      await wait(spec.delayMs);
    }
    const framed = framing === 'chunked'
      ? Buffer.concat([Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from('\r\n')]) : p;
    if (i === 0) {
      state.firstPieceAt = performance.now();
      state.lastSent = false;
    }
    await write(socket, framed);
    state.lastPieceAt = performance.now();
    if (last) state.lastSent = true;
  }
  if (framing === 'chunked') await write(socket, '0\r\n\r\n');
  if (spec.after) {
    // Written once the answer is out and the connection sits idle (afterDelayMs later).
    if (spec.afterDelayMs) await wait(spec.afterDelayMs);
    await write(socket, spec.after);
    for (const w of state.afterWaiters.splice(0)) w();
  }
  if (close) {
    socket.end();
    return false;
  }
  return true;
}
