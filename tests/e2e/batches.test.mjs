// The Batch API with the official `openai` npm SDK (docs/batches.md): files.create with a real
// file stream, batches.create, batches.retrieve polled with a bounded loop, files.content read
// line by line, a restart of the gateway in the middle, and a cancel. The upstream is a small
// node server on port 0 that counts its calls per custom_id (each line's message content).
// The Batch and File objects are checked against the OpenAI spec's schemas (fixtures/
// openai-openapi/openapi.yaml: every required member present, no member the spec lacks but the
// gateway's `switchyard` extension). A first test captures the SDK's multipart upload, the
// fixture of the C++ parser's unit test.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import OpenAI from 'openai';
import yaml from 'js-yaml';

import { assertNoProblems, startGateway, startRedis, stopChild, stopGateway } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const SPEC = process.env.OPENAI_OPENAPI_SPEC ||
  path.resolve(here, '../fixtures/openai-openapi/openapi.yaml');
const FIXTURES = path.resolve(here, '../fixtures/wire/openai_files');
const SDK_VERSION = JSON.parse(
  fs.readFileSync(path.join(here, 'node_modules/openai/package.json'), 'utf8')).version;
const POLL_MS = 100;
const POLL_ROUNDS = 600; // 60 s at most per wait

function line(customId, model = 'gpt-4o-mini') {
  return JSON.stringify({
    custom_id: customId, method: 'POST', url: '/v1/chat/completions',
    body: { model, messages: [{ role: 'user', content: customId }] },
  });
}

function writeInput(dir, ids) {
  const file = path.join(dir, 'batch_input.jsonl');
  fs.writeFileSync(file, ids.map((id) => line(id)).join('\n') + '\n');
  return file;
}

/** A fake OpenAI upstream: counts calls per custom_id, answers after `delayMs`. */
async function startUpstream(delayMs) {
  const calls = new Map();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const parsed = JSON.parse(body);
      const id = parsed.messages?.[0]?.content ?? '';
      calls.set(id, (calls.get(id) ?? 0) + 1);
      setTimeout(() => {
        const out = JSON.stringify({
          id: `chatcmpl-${id}`, object: 'chat.completion', created: 1, model: 'up-model',
          choices: [{ index: 0, message: { role: 'assistant', content: `echo ${id}` },
            finish_reason: 'stop' }],
          usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(out);
      }, delayMs);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: server.address().port, calls };
}

function config(upstreamPort, dataDir, concurrency = 2, store = '') {
  return `${store}listen: 127.0.0.1:0
workers: 1
data_dir: ${dataDir}
timeouts: { drain: 10s, drain_grace: 0s }
upstreams:
  - { name: up, base_url: "http://127.0.0.1:${upstreamPort}/v1", api_key: sk-upstream }
models:
  - { name: gpt-4o-mini, upstream: up, model: up-model,
      price: { input_per_mtok: 1.0, output_per_mtok: 2.0 } }
log: { level: warn, access: off }
batches: { concurrency: ${concurrency}, poll_interval: 50ms, retry_base: 50ms, retry_cap: 1s }
`;
}

/** The shared store: replicas with this in their config share batches and files. */
function redisStore(redis, prefix) {
  return `store: { type: redis, url: "${redis.url}", key_prefix: "${prefix}" }\n`;
}

async function pollUntil(client, id, done) {
  let last;
  for (let i = 0; i < POLL_ROUNDS; i++) {
    last = await client.batches.retrieve(id);
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  assert.fail(`batch ${id} never got there: ${JSON.stringify(last)}`);
}

async function contentLines(client, fileId) {
  const res = await client.files.content(fileId);
  const text = await res.text();
  return text.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l));
}

let schemas;
function checkAgainstSpec(name, object) {
  schemas ??= yaml.load(fs.readFileSync(SPEC, 'utf8')).components.schemas;
  const schema = schemas[name];
  for (const key of schema.required ?? []) {
    assert.ok(key in object, `${name}.${key} is required by the spec`);
  }
  for (const key of Object.keys(object)) {
    if (key === 'switchyard') continue; // the gateway's own extension (cost)
    assert.ok(key in schema.properties, `${name}.${key} is not in the spec`);
  }
  const status = schema.properties.status?.enum;
  if (status) assert.ok(status.includes(object.status), `${name}.status ${object.status}`);
}

describe('Batch API with the openai SDK', () => {
  let tmp;
  const problems = [];
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-batches-')); });
  after(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
    assertNoProblems(problems);
  });

  test("captures the SDK's multipart upload (the parser's fixture)", async () => {
    let captured;
    const server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        captured = { contentType: req.headers['content-type'], body: Buffer.concat(chunks) };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'file-x', object: 'file', bytes: 1, created_at: 1,
          filename: 'batch_input.jsonl', purpose: 'batch', status: 'processed' }));
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const client = new OpenAI({ apiKey: 'sk-test', baseURL: `http://127.0.0.1:${server.address().port}/v1`, maxRetries: 0 });
      const input = writeInput(tmp, ['fixture-1', 'fixture-2']);
      await client.files.create({ file: fs.createReadStream(input), purpose: 'batch' });
      assert.match(captured.contentType, /^multipart\/form-data; boundary=/);
      const boundary = captured.contentType.split('boundary=')[1];
      const sidecar = path.join(FIXTURES, 'files_create.json');
      const bodyFile = path.join(FIXTURES, 'files_create.body');
      if (process.env.SWITCHYARD_UPDATE_FIXTURES === '1' || !fs.existsSync(sidecar)) {
        fs.mkdirSync(FIXTURES, { recursive: true });
        fs.writeFileSync(bodyFile, captured.body);
        fs.writeFileSync(sidecar, JSON.stringify({
          source: `openai npm ${SDK_VERSION} files.create(fs.createReadStream) on node ${process.version}`,
          content_type: captured.contentType, filename: 'batch_input.jsonl',
          file: fs.readFileSync(input, 'utf8'),
        }, null, 2) + '\n');
      }
      // The SDK still writes what the fixture holds (its random boundary aside).
      const fixture = JSON.parse(fs.readFileSync(sidecar, 'utf8'));
      const fixtureBoundary = fixture.content_type.split('boundary=')[1];
      const expected = fs.readFileSync(bodyFile).toString('latin1').split(fixtureBoundary).join(boundary);
      assert.equal(captured.body.toString('latin1'), expected);
    } finally {
      server.close();
    }
  });

  test('files.create → batches.create → retrieve → files.content, across a restart', async () => {
    const up = await startUpstream(40);
    const dataDir = fs.mkdtempSync(path.join(tmp, 'data-'));
    let gw = await startGateway(config(up.port, dataDir));
    try {
      let client = new OpenAI({ apiKey: 'sk-client', baseURL: gw.baseURL, maxRetries: 0 });
      const ids = Array.from({ length: 40 }, (_, i) => `req-${i}`);
      const file = await client.files.create({ file: fs.createReadStream(writeInput(tmp, ids)), purpose: 'batch' });
      checkAgainstSpec('OpenAIFile', file);
      assert.equal(file.purpose, 'batch');
      assert.equal(file.filename, 'batch_input.jsonl');
      const retrieved = await client.files.retrieve(file.id);
      assert.equal(retrieved.bytes, file.bytes);

      const batch = await client.batches.create({
        input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h',
        metadata: { purpose: 'e2e' },
      });
      checkAgainstSpec('Batch', batch);
      assert.equal(batch.status, 'validating');
      assert.equal(batch.metadata.purpose, 'e2e');

      await pollUntil(client, batch.id, (b) => b.request_counts.completed >= 6);
      problems.push(await stopGateway(gw)); // SIGTERM: lines in flight finish, none start
      gw = null;
      const before = [...up.calls.values()].reduce((a, b) => a + b, 0);
      assert.ok(before < ids.length, `the batch ended before the restart (${before})`);
      gw = await startGateway(config(up.port, dataDir));
      client = new OpenAI({ apiKey: 'sk-client', baseURL: gw.baseURL, maxRetries: 0 });

      const done = await pollUntil(client, batch.id, (b) => b.status === 'completed');
      checkAgainstSpec('Batch', done);
      assert.deepEqual(done.request_counts, { total: 40, completed: 40, failed: 0 });
      assert.equal(done.error_file_id, null);
      for (const id of ids) assert.equal(up.calls.get(id), 1, `${id} ran once`);

      const out = await contentLines(client, done.output_file_id);
      assert.deepEqual(out.map((o) => o.custom_id), ids);
      for (const o of out) {
        assert.deepEqual(Object.keys(o).sort(), ['custom_id', 'error', 'id', 'response']);
        assert.equal(o.response.status_code, 200);
        assert.equal(o.response.body.object, 'chat.completion');
        assert.equal(o.response.body.choices[0].message.content, `echo ${o.custom_id}`);
        assert.equal(o.error, null);
      }
      const page = await client.batches.list({ limit: 1 });
      assert.equal(page.data[0].id, batch.id);
      const outFile = await client.files.retrieve(done.output_file_id);
      checkAgainstSpec('OpenAIFile', outFile);
      assert.equal(outFile.purpose, 'batch_output');
    } finally {
      problems.push(await stopGateway(gw));
      up.server.close();
    }
  });

  test('batches.cancel stops new lines and leaves a partial output file', async () => {
    const up = await startUpstream(80);
    const dataDir = fs.mkdtempSync(path.join(tmp, 'data-'));
    const gw = await startGateway(config(up.port, dataDir));
    try {
      const client = new OpenAI({ apiKey: 'sk-client', baseURL: gw.baseURL, maxRetries: 0 });
      const ids = Array.from({ length: 100 }, (_, i) => `c-${i}`);
      const file = await client.files.create({ file: fs.createReadStream(writeInput(tmp, ids)), purpose: 'batch' });
      const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
      await pollUntil(client, batch.id, (b) => b.request_counts.completed >= 4);
      const cancelling = await client.batches.cancel(batch.id);
      assert.ok(['cancelling', 'cancelled'].includes(cancelling.status), cancelling.status);
      const done = await pollUntil(client, batch.id, (b) => b.status === 'cancelled');
      checkAgainstSpec('Batch', done);
      assert.ok(done.request_counts.completed < 100);
      const out = await contentLines(client, done.output_file_id);
      assert.equal(out.length, done.request_counts.completed);
      const calls = [...up.calls.values()].reduce((a, b) => a + b, 0);
      assert.equal(calls, done.request_counts.completed, 'in-flight lines finished and were kept');
      await assert.rejects(client.batches.retrieve('batch_nope'), (e) => e.status === 404);
    } finally {
      problems.push(await stopGateway(gw));
      up.server.close();
    }
  });
});

// Two replicas (the real binary twice) on one real redis-server, each with its own data_dir:
// what the SDK stores through one is read, finished and cancelled through the other.
describe('Batch API with the openai SDK across replicas sharing Redis', () => {
  let tmp;
  let redis;
  const problems = [];
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-batches-redis-'));
    redis = await startRedis(tmp);
  });
  after(async () => {
    problems.push(await stopChild(redis?.child));
    fs.rmSync(tmp, { recursive: true, force: true });
    assertNoProblems(problems);
  });

  test('created through A, A restarted away, finished by B with every line once', async () => {
    const up = await startUpstream(40);
    const store = redisStore(redis, 'e2e-restart:');
    let a = await startGateway(config(up.port, fs.mkdtempSync(path.join(tmp, 'a-')), 2, store));
    let b = null;
    try {
      const viaA = new OpenAI({ apiKey: 'sk-client', baseURL: a.baseURL, maxRetries: 0 });
      const ids = Array.from({ length: 40 }, (_, i) => `s-${i}`);
      const file = await viaA.files.create({ file: fs.createReadStream(writeInput(tmp, ids)), purpose: 'batch' });
      const batch = await viaA.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
      await pollUntil(viaA, batch.id, (x) => x.request_counts.completed >= 6);

      b = await startGateway(config(up.port, fs.mkdtempSync(path.join(tmp, 'b-')), 2, store));
      const viaB = new OpenAI({ apiKey: 'sk-client', baseURL: b.baseURL, maxRetries: 0 });
      const seen = await viaB.batches.retrieve(batch.id);
      checkAgainstSpec('Batch', seen);
      assert.equal(seen.status, 'in_progress');
      assert.equal((await viaB.files.retrieve(file.id)).bytes, file.bytes);
      assert.equal(await (await viaB.files.content(file.id)).text(), fs.readFileSync(path.join(tmp, 'batch_input.jsonl'), 'utf8'));

      problems.push(await stopGateway(a)); // SIGTERM: A's lines in flight finish, its lease ends
      a = null;
      const before = [...up.calls.values()].reduce((x, y) => x + y, 0);
      assert.ok(before < ids.length, `the batch ended before A stopped (${before})`);

      const done = await pollUntil(viaB, batch.id, (x) => x.status === 'completed');
      checkAgainstSpec('Batch', done);
      assert.deepEqual(done.request_counts, { total: 40, completed: 40, failed: 0 });
      for (const id of ids) assert.equal(up.calls.get(id), 1, `${id} ran once`);
      const out = await contentLines(viaB, done.output_file_id);
      assert.deepEqual(out.map((o) => o.custom_id), ids);
      for (const o of out) assert.equal(o.response.body.choices[0].message.content, `echo ${o.custom_id}`);
    } finally {
      problems.push(await stopGateway(a));
      problems.push(await stopGateway(b));
      up.server.close();
    }
  });

  test('batches.cancel through B stops the batch A runs', async () => {
    const up = await startUpstream(80);
    const store = redisStore(redis, 'e2e-cancel:');
    const a = await startGateway(config(up.port, fs.mkdtempSync(path.join(tmp, 'a-')), 2, store));
    let b = null;
    try {
      const viaA = new OpenAI({ apiKey: 'sk-client', baseURL: a.baseURL, maxRetries: 0 });
      const ids = Array.from({ length: 100 }, (_, i) => `x-${i}`);
      const file = await viaA.files.create({ file: fs.createReadStream(writeInput(tmp, ids)), purpose: 'batch' });
      const batch = await viaA.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
      await pollUntil(viaA, batch.id, (x) => x.request_counts.completed >= 4);
      b = await startGateway(config(up.port, fs.mkdtempSync(path.join(tmp, 'b-')), 2, store));
      const viaB = new OpenAI({ apiKey: 'sk-client', baseURL: b.baseURL, maxRetries: 0 });
      const cancelling = await viaB.batches.cancel(batch.id);
      assert.ok(['cancelling', 'cancelled'].includes(cancelling.status), cancelling.status);
      const done = await pollUntil(viaA, batch.id, (x) => x.status === 'cancelled');
      checkAgainstSpec('Batch', done);
      assert.ok(done.request_counts.completed < 100);
      const out = await contentLines(viaB, done.output_file_id);
      assert.equal(out.length, done.request_counts.completed);
      const calls = [...up.calls.values()].reduce((x, y) => x + y, 0);
      assert.equal(calls, done.request_counts.completed, 'in-flight lines finished and were kept');
    } finally {
      problems.push(await stopGateway(a));
      problems.push(await stopGateway(b));
      up.server.close();
    }
  });
});
