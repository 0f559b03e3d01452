// The real clients of the differential tests, each behind one small adapter that makes a call
// and reduces what the client reports to the same plain shape, so that "direct to the upstream"
// and "through the gateway" can be compared with deepEqual:
//   chat → { text, texts?, reasoning, toolCalls: [{ name, args }], usage: { prompt, completion }
//            | null, finish }
//   error → { name, status, message }
// Clients: openai (official SDK), ai + @ai-sdk/openai (.chat), ai + @ai-sdk/openai-compatible,
// @langchain/openai ChatOpenAI. Each is built with retries off: the gateway's retries are under
// test, not the client's.

import OpenAI from 'openai';
import { embed, embedMany, generateText, jsonSchema, streamText, tool } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';

export const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'Current weather of a place',
  parameters: { type: 'object', properties: { location: { type: 'string' },
    city: { type: 'string' } }, additionalProperties: false },
};

/** Error → the facts a user acts on. */
export function errorFacts(e) {
  return {
    name: e?.constructor?.name ?? typeof e,
    status: e?.status ?? e?.statusCode ?? null,
    message: String(e?.message ?? e),
  };
}

const parseArgs = (s) => {
  if (typeof s !== 'string') return s ?? null;
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
};

// ---------------------------------------------------------------------------------------------
// openai

function openaiClient(baseURL, { chatModel, embedModel, prompt }) {
  const client = new OpenAI({ baseURL, apiKey: 'sk-client', maxRetries: 0, timeout: 15_000 });
  return {
    name: 'openai',
    async chat({ stream, tools, n, signal, onFirst, onChunk, kind = 'chat' }) {
      const base = kind === 'completion'
        ? { model: chatModel, prompt }
        : { model: chatModel, messages: [{ role: 'user', content: prompt }],
          ...(tools ? { tools: [{ type: 'function', function: WEATHER_TOOL }] } : {}),
          ...(n ? { n } : {}) };
      const api = kind === 'completion' ? client.completions : client.chat.completions;
      if (!stream) {
        const r = await api.create(base, { signal });
        const texts = r.choices.map((c) => (kind === 'completion' ? c.text : c.message.content) ?? '');
        const m = r.choices[0].message ?? {};
        return {
          text: texts[0], ...(texts.length > 1 ? { texts } : {}),
          reasoning: m.reasoning_content ?? m.reasoning ?? '',
          toolCalls: (m.tool_calls ?? []).map((t) => ({ name: t.function.name,
            args: parseArgs(t.function.arguments) })),
          usage: r.usage ? { prompt: r.usage.prompt_tokens, completion: r.usage.completion_tokens }
            : null,
          finish: r.choices[0].finish_reason,
        };
      }
      const s = await api.create({ ...base, stream: true,
        stream_options: { include_usage: true } }, { signal });
      const texts = [];
      let reasoning = '';
      const tcs = new Map();
      let usage = null;
      let finish = null;
      let first = true;
      for await (const chunk of s) {
        if (first) {
          first = false;
          onFirst?.();
        } else onChunk?.();
        if (chunk.usage) usage = { prompt: chunk.usage.prompt_tokens,
          completion: chunk.usage.completion_tokens };
        for (const c of chunk.choices ?? []) {
          const d = kind === 'completion' ? { content: c.text } : (c.delta ?? {});
          if (typeof d.content === 'string') texts[c.index] = (texts[c.index] ?? '') + d.content;
          if (c.index === 0) reasoning += d.reasoning_content ?? d.reasoning ?? '';
          for (const t of d.tool_calls ?? []) {
            const prev = tcs.get(t.index) ?? { name: '', args: '' };
            prev.name += t.function?.name ?? '';
            prev.args += t.function?.arguments ?? '';
            tcs.set(t.index, prev);
          }
          if (c.finish_reason && c.index === 0) finish = c.finish_reason;
        }
      }
      return {
        text: texts[0] ?? '', ...(texts.length > 1 ? { texts } : {}), reasoning,
        toolCalls: [...tcs.values()].map((t) => ({ name: t.name, args: parseArgs(t.args) })),
        usage, finish,
      };
    },
    async embed({ format }) {
      const r = await client.embeddings.create({ model: embedModel, input: ['a', 'b'],
        ...(format ? { encoding_format: format } : {}) });
      const vectors = r.data.map((d) => (typeof d.embedding === 'string'
        ? Array.from(new Float32Array(Buffer.from(d.embedding, 'base64').buffer.slice(0)))
        : Array.from(d.embedding)));
      return { vectors, usage: r.usage.prompt_tokens };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// ai (Vercel AI SDK): one adapter for both providers

function aiClient(name, model, embeddingModel, { prompt }) {
  const tools = { get_weather: tool({ description: WEATHER_TOOL.description,
    inputSchema: jsonSchema(WEATHER_TOOL.parameters) }) };
  return {
    name,
    async chat({ stream, tools: withTools, signal, onFirst, onChunk }) {
      const args = { model, prompt, maxRetries: 0, abortSignal: signal,
        ...(withTools ? { tools } : {}) };
      if (!stream) {
        const r = await generateText(args);
        return {
          text: r.text, reasoning: r.reasoningText ?? '',
          toolCalls: r.toolCalls.map((t) => ({ name: t.toolName, args: t.input })),
          usage: r.usage.inputTokens === undefined ? null
            : { prompt: r.usage.inputTokens, completion: r.usage.outputTokens },
          finish: r.finishReason,
        };
      }
      let streamError = null;
      const r = streamText({ ...args, onError: ({ error }) => {
        streamError = error;
      } });
      let text = '';
      let reasoning = '';
      const toolCalls = [];
      let usage = null;
      let finish = null;
      let first = true;
      for await (const part of r.fullStream) {
        if (/delta|tool-input-start|tool-call/.test(part.type)) {
          if (first) onFirst?.();
          else onChunk?.();
          first = false;
        }
        if (part.type === 'text-delta') text += part.text;
        else if (part.type === 'reasoning-delta') reasoning += part.text;
        else if (part.type === 'tool-call') toolCalls.push({ name: part.toolName, args: part.input });
        else if (part.type === 'error') streamError = part.error;
        else if (part.type === 'finish') {
          finish = part.finishReason;
          const u = part.totalUsage;
          usage = u?.inputTokens === undefined ? null
            : { prompt: u.inputTokens, completion: u.outputTokens };
        }
      }
      if (streamError) throw streamError;
      return { text, reasoning, toolCalls, usage, finish };
    },
    async embed({ format }) {
      if (format === 'base64') throw new Error('the AI SDK always asks for float');
      const r = await embedMany({ model: embeddingModel, values: ['a', 'b'], maxRetries: 0 });
      return { vectors: r.embeddings.map((v) => Array.from(v)), usage: r.usage.tokens };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// @langchain/openai

function langchainClient(baseURL, { chatModel, embedModel, prompt }) {
  const make = (extra = {}) => new ChatOpenAI({ model: chatModel, apiKey: 'sk-client',
    maxRetries: 0, timeout: 15_000, configuration: { baseURL }, ...extra });
  const reduce = (m) => ({
    text: typeof m.content === 'string' ? m.content
      : m.content.map((p) => p.text ?? '').join(''),
    reasoning: m.additional_kwargs?.reasoning_content ?? '',
    toolCalls: (m.tool_calls ?? []).map((t) => ({ name: t.name, args: t.args })),
    usage: m.usage_metadata ? { prompt: m.usage_metadata.input_tokens,
      completion: m.usage_metadata.output_tokens } : null,
    finish: m.response_metadata?.finish_reason ?? null,
  });
  return {
    name: 'langchain',
    async chat({ stream, tools, signal, onFirst, onChunk }) {
      let model = make();
      if (tools) model = model.bindTools([{ type: 'function', function: WEATHER_TOOL }]);
      const input = [['human', prompt]];
      if (!stream) return reduce(await model.invoke(input, { signal }));
      let acc;
      for await (const chunk of await model.stream(input, { signal })) {
        if (!acc) onFirst?.();
        else onChunk?.();
        acc = acc ? acc.concat(chunk) : chunk;
      }
      return reduce(acc);
    },
    async embed({ format }) {
      const e = new OpenAIEmbeddings({ model: embedModel, apiKey: 'sk-client', maxRetries: 0,
        configuration: { baseURL }, ...(format ? { encodingFormat: format } : {}) });
      const vectors = await e.embedDocuments(['a', 'b']);
      return { vectors: vectors.map((v) => Array.from(v)), usage: null };
    },
  };
}

/**
 * Every client, built for `baseURL` (an OpenAI-style base, e.g. ending in /v1), asking for
 * `chatModel` / `embedModel` with the user message `prompt`.
 */
export function clientsFor(baseURL, { chatModel = 'replay-chat', embedModel = 'replay-embed',
  prompt = 'Hi' } = {}) {
  const o = { chatModel, embedModel, prompt };
  const openaiProvider = createOpenAI({ baseURL, apiKey: 'sk-client' });
  const compatible = createOpenAICompatible({ name: 'replay', baseURL, apiKey: 'sk-client',
    includeUsage: true });
  return [
    openaiClient(baseURL, o),
    aiClient('ai-sdk/openai', openaiProvider.chat(chatModel), openaiProvider.embedding(embedModel), o),
    aiClient('ai-sdk/openai-compatible', compatible.chatModel(chatModel),
      compatible.embeddingModel(embedModel), o),
    langchainClient(baseURL, o),
  ];
}

/** Runs `fn`, returning { ok, value } or { ok: false, error: errorFacts }. */
export async function outcome(fn) {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return { ok: false, error: errorFacts(e) };
  }
}
