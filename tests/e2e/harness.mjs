// Shared process harness of the end-to-end tests: spawns mock-llm and switchyard on port 0,
// finds their ports through the "listening on HOST:PORT" lines they print, and stops them.
//
// Env: SWITCHYARD_BIN, MOCK_LLM_BIN (default: ../../build/switchyard, ../../build/bench/mock-llm
// relative to this file); E2E_VERBOSE=1 copies the children's output to stderr.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SWITCHYARD_BIN =
  process.env.SWITCHYARD_BIN || path.resolve(here, '../../build/switchyard');
export const MOCK_LLM_BIN =
  process.env.MOCK_LLM_BIN || path.resolve(here, '../../build/bench/mock-llm');
export const VERBOSE = process.env.E2E_VERBOSE === '1';

export const STARTUP_TIMEOUT_MS = 30_000;
export const SHUTDOWN_TIMEOUT_MS = 15_000; // > the gateway's 5 s drain deadline

// ---------------------------------------------------------------------------------------------
// Child processes

/** A spawned child whose stdout and stderr are always drained and remembered (last lines). */
export class Child {
  constructor(name, bin, args, env = undefined) {
    this.name = name;
    this.lines = []; // "[stdout] ..." / "[stderr] ..." tail, for failure messages
    this.lineListeners = new Set();
    this.child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
    // Settles exactly once, on 'exit' (code/signal) or on a spawn 'error' (e.g. ENOENT).
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve({ code, signal }));
      this.child.once('error', (error) => resolve({ code: null, signal: null, error }));
    });
    this.hasExited = false;
    this.exited.then(() => {
      this.hasExited = true;
    });
    for (const streamName of ['stdout', 'stderr']) {
      const rl = createInterface({ input: this.child[streamName], crlfDelay: Infinity });
      rl.on('line', (line) => {
        this.lines.push(`[${streamName}] ${line}`);
        if (this.lines.length > 200) this.lines.shift();
        if (VERBOSE) process.stderr.write(`${this.name} ${streamName}: ${line}\n`);
        for (const listener of this.lineListeners) listener(streamName, line);
      });
    }
  }

  tail(n = 40) {
    return this.lines.slice(-n).join('\n') || '(no output)';
  }

  /** Calls `listener(streamName, line)` for every later line; returns the unsubscriber. */
  onLine(listener) {
    this.lineListeners.add(listener);
    return () => this.lineListeners.delete(listener);
  }

  /** Resolves with the first match of `pattern` on `streamName`; bounded by `timeoutMs`. */
  waitForLine(streamName, pattern, timeoutMs) {
    return new Promise((resolve, reject) => {
      let timer;
      const done = (fn, value) => {
        clearTimeout(timer);
        this.lineListeners.delete(listener);
        fn(value);
      };
      const listener = (s, line) => {
        if (s !== streamName) return;
        const m = pattern.exec(line);
        if (m) done(resolve, m);
      };
      this.lineListeners.add(listener);
      timer = setTimeout(
        () =>
          done(
            reject,
            new Error(`${this.name}: no line matching ${pattern} on ${streamName} within ` +
                      `${timeoutMs} ms; output:\n${this.tail()}`),
          ),
        timeoutMs,
      );
      this.exited.then(({ code, signal, error }) =>
        done(
          reject,
          new Error(`${this.name} exited before it was ready (code ${code}, signal ${signal}` +
                    `${error ? `, ${error.message}` : ''}); output:\n${this.tail()}`),
        ),
      );
    });
  }

  /** SIGTERM, then wait (bounded); SIGKILL and report if it does not exit in time. */
  async stop(timeoutMs) {
    if (this.hasExited) return this.exited;
    this.child.kill('SIGTERM');
    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (result === null) {
      this.child.kill('SIGKILL');
      await this.exited;
      throw new Error(`${this.name} did not exit within ${timeoutMs} ms of SIGTERM; output:\n` +
                      this.tail());
    }
    return result;
  }
}

export function assertExecutable(file, envName) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    throw new Error(`${file} is missing or not executable (build it, or set ${envName})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Startup and shutdown

/** Starts mock-llm on a free port: `{ child, port }`. */
export async function startMock(args = []) {
  assertExecutable(MOCK_LLM_BIN, 'MOCK_LLM_BIN');
  const child = new Child('mock-llm', MOCK_LLM_BIN, ['--port', '0', ...args]);
  try {
    const m = await child.waitForLine('stdout', /listening on [^\s:]+:(\d+)/, STARTUP_TIMEOUT_MS);
    const port = Number(m[1]);
    assert.ok(port > 0, 'mock port');
    return { child, port };
  } catch (e) {
    await child.stop(SHUTDOWN_TIMEOUT_MS).catch(() => {});
    throw e;
  }
}

/**
 * Writes `configYaml` to a fresh temporary directory and starts switchyard on it (the config
 * must listen on port 0). Returns `{ child, port, baseURL, dir }`; give it to `stopGateway`.
 * `onLine(streamName, line)`, when given, sees every line from the first one on.
 */
export async function startGateway(configYaml, { name = 'switchyard', onLine } = {}) {
  assertExecutable(SWITCHYARD_BIN, 'SWITCHYARD_BIN');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-e2e-'));
  const configPath = path.join(dir, 'switchyard.yaml');
  fs.writeFileSync(configPath, configYaml);
  const child = new Child(name, SWITCHYARD_BIN, ['--config', configPath]);
  if (onLine) child.onLine(onLine);
  try {
    // Printed whatever the log level.
    const m = await child.waitForLine(
      'stderr', /listening on [^\s:]+:(\d+) with \d+ workers/, STARTUP_TIMEOUT_MS);
    const port = Number(m[1]);
    assert.ok(port > 0, 'gateway port');
    return { child, port, baseURL: `http://127.0.0.1:${port}/v1`, dir };
  } catch (e) {
    await child.stop(SHUTDOWN_TIMEOUT_MS).catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Starts Debian's redis-server on a free 127.0.0.1 port, no persistence, in `dir`: `{ child,
 * port, url }` (stop it with stopChild). Ready when it prints "Ready to accept connections"
 * (its own log line, on stdout). The port is found by binding port 0 and closing it; if another
 * process takes it in between, redis-server exits with "Address already in use" and the next
 * of three tries picks another.
 */
export async function startRedis(dir) {
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await new Promise((resolve, reject) => {
      const probe = net.createServer();
      probe.once('error', reject);
      probe.listen(0, '127.0.0.1', () => {
        const p = probe.address().port;
        probe.close(() => resolve(p));
      });
    });
    const child = new Child('redis-server', 'redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', dir, '--daemonize', 'no',
    ]);
    try {
      await child.waitForLine('stdout', /Ready to accept connections/, STARTUP_TIMEOUT_MS);
      return { child, port, url: `redis://127.0.0.1:${port}/0` };
    } catch (e) {
      lastError = e;
      await child.stop(SHUTDOWN_TIMEOUT_MS).catch(() => {});
    }
  }
  throw lastError;
}

/**
 * Stops a child (SIGTERM, bounded wait) and returns a description of what went wrong — a
 * non-zero exit, a signal, a spawn error, a hang — or null when it exited 0.
 */
export async function stopChild(child) {
  if (!child) return null;
  try {
    const { code, signal, error } = await child.stop(SHUTDOWN_TIMEOUT_MS);
    if (error || code !== 0) {
      return `${child.name} exited with code ${code}, signal ${signal}` +
             `${error ? ` (${error.message})` : ''}; output:\n${child.tail()}`;
    }
    return null;
  } catch (e) {
    return e.message;
  }
}

/** Stops what startGateway started and removes its directory; returns a problem or null. */
export async function stopGateway(gateway) {
  if (!gateway) return null;
  const problem = await stopChild(gateway.child);
  fs.rmSync(gateway.dir, { recursive: true, force: true });
  return problem;
}

/** Asserts that every entry of `problems` is null (the results of stopChild/stopGateway). */
export function assertNoProblems(problems) {
  const real = problems.filter((p) => p);
  assert.deepEqual(real, [], real.join('\n\n'));
}

// ---------------------------------------------------------------------------------------------
// Test helpers

/** Iterates a stream to the end, returning the chunks (throws what the iteration throws). */
export async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

/** Asserts `promiseOrFn` rejects with an instance of `ErrorClass`; returns the error. */
export async function expectError(promiseOrFn, ErrorClass) {
  let caught;
  try {
    await (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught, `expected ${ErrorClass.name}, but nothing was thrown`);
  assert.ok(
    caught instanceof ErrorClass,
    `expected ${ErrorClass.name}, got ${caught?.constructor?.name}: ${caught?.message}`,
  );
  return caught;
}
