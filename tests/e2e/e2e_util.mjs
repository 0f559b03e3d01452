// Helpers shared by the wire and client-differential suites: raw HTTP requests that keep the
// bytes and their arrival times, a gateway whose JSON access log is parsed as it arrives, and a
// free loopback port for servers that cannot report the port they bound.

import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import zlib from 'node:zlib';

import { SseParser } from './sse.mjs';
import { startGateway, stopGateway } from './harness.mjs';

export const LOG_WAIT_MS = 5_000; // access-log lines are batched (~50 ms)

/**
 * One HTTP/1.1 request on a fresh connection. Resolves with
 * `{ status, headers, body (decoded if gzip), rawBody, pieces: [{ at, bytes }], events,
 *    firstEventAt, informational: [status...] }`; `onEvent(ev)` sees each SSE event as it
 * arrives. Bounded by `timeoutMs`.
 */
export function rawRequest(url, { method = 'POST', headers = {}, body, timeoutMs = 8_000,
  onEvent, expectContinue = false } = {}) {
  const u = new URL(url);
  const payload = body === undefined ? undefined
    : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const hdrs = { 'content-type': 'application/json', authorization: 'Bearer sk-client',
      ...headers };
    if (payload) hdrs['content-length'] = payload.length;
    if (expectContinue) hdrs.expect = '100-continue';
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search,
      method, headers: hdrs, agent: false });
    const informational = [];
    const timer = setTimeout(() => {
      req.destroy(new Error(`no complete answer from ${url} within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('information', (info) => informational.push(info.statusCode));
    req.on('continue', () => req.end(payload));
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.on('response', (res) => {
      const pieces = [];
      const parser = new SseParser();
      const events = [];
      let firstEventAt = null;
      const gz = /gzip/.test(res.headers['content-encoding'] ?? '') ? zlib.createGunzip() : null;
      const onDecoded = (d) => {
        for (const ev of parser.feed(d)) {
          if (firstEventAt === null) firstEventAt = performance.now();
          events.push(ev);
          onEvent?.(ev);
        }
      };
      const decoded = [];
      if (gz) {
        gz.on('data', (d) => {
          decoded.push(d);
          onDecoded(d);
        });
        gz.on('error', () => {});
      }
      res.on('data', (d) => {
        pieces.push({ at: performance.now(), bytes: d });
        if (gz) gz.write(d);
        else {
          decoded.push(d);
          onDecoded(d);
        }
      });
      const finish = (aborted) => {
        clearTimeout(timer);
        const done = () => resolve({
          status: res.statusCode, statusMessage: res.statusMessage, headers: res.headers,
          body: Buffer.concat(decoded), rawBody: Buffer.concat(pieces.map((p) => p.bytes)),
          pieces, events, firstEventAt, informational, aborted,
        });
        if (gz) gz.end(done);
        else done();
      };
      res.on('end', () => finish(false));
      res.on('aborted', () => finish(true));
      res.on('error', () => finish(true));
    });
    if (!expectContinue) req.end(payload);
  });
}

/** A free loopback port (bound and released; for servers that cannot report port 0). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts a gateway from `yaml` and parses its JSON access log (needs `log: { access: stdout }`).
 * Returns `{ gateway, baseURL, root, records, waitForRecord(pred), recordFor(id), stop() }`.
 */
export async function startLoggedGateway(yaml) {
  const records = [];
  const waiters = new Set();
  const onLine = (streamName, line) => {
    if (streamName !== 'stdout' || !line.startsWith('{')) return;
    let record;
    try {
      record = JSON.parse(line);
    } catch {
      return;
    }
    records.push(record);
    for (const w of [...waiters]) if (w.pred(record)) w.resolve(record);
  };
  const gateway = await startGateway(yaml, { onLine });
  const g = {
    gateway,
    baseURL: gateway.baseURL,
    root: `http://127.0.0.1:${gateway.port}`,
    records,
    waitForRecord(pred, timeoutMs = LOG_WAIT_MS) {
      const seen = records.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve: (r) => {
            clearTimeout(timer);
            waiters.delete(w);
            resolve(r);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`no access-log line matched within ${timeoutMs} ms; output:\n` +
                           gateway.child.tail()));
        }, timeoutMs);
        waiters.add(w);
      });
    },
    recordFor(id, timeoutMs) {
      return g.waitForRecord((r) => r.request_id === id, timeoutMs);
    },
    stop: () => stopGateway(gateway),
  };
  return g;
}

/** Asserts two numbers are within `eps` of each other (relative to the larger). */
export function assertClose(actual, expected, eps, label) {
  const scale = Math.max(Math.abs(actual), Math.abs(expected), 1e-12);
  assert.ok(Math.abs(actual - expected) / scale <= eps, `${label}: ${actual} vs ${expected}`);
}
