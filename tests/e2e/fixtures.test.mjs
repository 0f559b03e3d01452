// The conformance corpus (tests/fixtures/wire) against expected.json, read with this suite's
// own WHATWG SSE parser: every file parses, at every split point, to the facts the C++ tests
// assert too. Guards the corpus itself; the gateway is not involved.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { EXPECTED, fixtureBytes, fixtureKind } from './replay_upstream.mjs';
import { SseParser, parseSse, streamFacts } from './sse.mjs';

describe('wire corpus', () => {
  for (const [file, want] of Object.entries(EXPECTED)) {
    test(file, () => {
      const bytes = fixtureBytes(file);
      if (file.endsWith('.json')) {
        const o = JSON.parse(bytes.toString('utf8'));
        if (o.error) return;
        if (want.embeddings) {
          const vecs = o.data.map((d) => (typeof d.embedding === 'string'
            ? Array.from(new Float32Array(new Uint8Array(Buffer.from(d.embedding, 'base64')).buffer))
            : d.embedding));
          assert.deepEqual(vecs, want.embeddings);
          assert.equal(o.usage.prompt_tokens, want.prompt_tokens);
          return;
        }
        const c = o.choices[0];
        assert.equal(fixtureKind(file) === 'completion' ? c.text : c.message.content, want.text);
        assert.equal(c.message?.reasoning_content ?? c.message?.reasoning ?? '', want.reasoning);
        assert.equal(o.usage?.prompt_tokens ?? null, want.prompt_tokens);
        assert.equal(o.usage?.completion_tokens ?? null, want.completion_tokens);
        return;
      }
      const { events, comments } = parseSse(bytes);
      const got = streamFacts(events, fixtureKind(file));
      assert.equal(got.events, want.events, 'events');
      assert.equal(comments, want.comments, 'comments');
      assert.equal(got.done, want.done, '[DONE]');
      for (const k of ['text', 'reasoning', 'prompt_tokens', 'completion_tokens',
        'finish_reason', 'usage_only_chunk']) {
        assert.deepEqual(got[k], want[k], k);
      }
      assert.deepEqual(got.tool_call_names, want.tool_call_names, 'tool_call_names');
      if (want.tool_call_arguments) {
        assert.deepEqual(got.tool_call_arguments, want.tool_call_arguments);
        for (const a of got.tool_call_arguments) JSON.parse(a);
      }
      if (want.texts) assert.deepEqual(got.texts, want.texts);
      if (want.refusal) assert.equal(got.refusal, want.refusal);
      if (want.error) assert.equal(got.error, want.error);

      // Split at every byte: the parser must give the same events.
      for (let cut = 1; cut < bytes.length; cut += Math.max(1, Math.floor(bytes.length / 97))) {
        const p = new SseParser();
        const evs = [...p.feed(bytes.subarray(0, cut)), ...p.feed(bytes.subarray(cut))];
        assert.deepEqual(evs, events, `split at ${cut}`);
      }
    });
  }
});
