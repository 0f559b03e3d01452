// A WHATWG-conformant server-sent-events parser (HTML Living Standard, "Parsing an event
// stream"), written independently of the gateway's: LF, CR and CRLF line endings, a leading
// BOM, comments, field names without a value, multi-line data, and input split at any byte.
// The e2e tests use it to read raw bodies (fixtures, the gateway's output) byte for byte.

/** Incremental parser: feed(Uint8Array|string) → the events completed so far. */
export class SseParser {
  constructor() {
    this.decoder = new TextDecoder('utf-8', { ignoreBOM: false });
    this.buffer = '';
    this.pendingCR = false; // the last chunk ended in CR: a following LF belongs to it
    this.data = [];
    this.eventType = '';
    this.lastId = '';
    this.comments = 0;
    this.hasData = false;
  }

  feed(chunk) {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (this.pendingCR && text.startsWith('\n')) text = text.slice(1);
    this.pendingCR = false;
    this.buffer += text;
    const events = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      // A CR at the very end may be the first half of a CRLF split across chunks.
      if (m[0] === '\r' && m.index === this.buffer.length - 1) this.pendingCR = true;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      const ev = this.line(line);
      if (ev) events.push(ev);
    }
    return events;
  }

  /** End of stream: an unterminated event is discarded, as the spec says. */
  end() {
    return [];
  }

  line(line) {
    if (line === '') {
      if (!this.hasData) {
        this.eventType = '';
        return null;
      }
      const ev = { type: this.eventType || 'message', data: this.data.join('\n'), id: this.lastId };
      this.data = [];
      this.eventType = '';
      this.hasData = false;
      return ev;
    }
    if (line.startsWith(':')) {
      this.comments++;
      return null;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      this.data.push(value);
      this.hasData = true;
    } else if (field === 'event') this.eventType = value;
    else if (field === 'id' && !value.includes('\0')) this.lastId = value;
    return null;
  }
}

/** Parses a whole body: { events, comments }. */
export function parseSse(body) {
  const p = new SseParser();
  const events = p.feed(typeof body === 'string' ? body : new Uint8Array(body));
  return { events, comments: p.comments };
}

/** The facts of expected.json, computed from parsed events (independently of generate.mjs). */
export function streamFacts(events, kind = 'chat') {
  const texts = [];
  const reasoning = [];
  const refusal = [];
  const tools = new Map();
  let usage = null;
  let groqUsage = null;
  let usageOnly = false;
  let error = null;
  let done = false;
  const finish = [];
  for (const ev of events) {
    if (ev.data === '[DONE]') {
      done = true;
      continue;
    }
    const o = JSON.parse(ev.data);
    if (o.error) error = o.error.message;
    if (o.usage) usage = o.usage;
    if (o.x_groq?.usage) groqUsage = o.x_groq.usage;
    if (Array.isArray(o.choices) && o.choices.length === 0 && o.usage) usageOnly = true;
    for (const c of o.choices ?? []) {
      const i = c.index ?? 0;
      const d = kind === 'completion' ? c : (c.delta ?? {});
      const t = kind === 'completion' ? c.text : d.content;
      if (typeof t === 'string') texts[i] = (texts[i] ?? '') + t;
      const r = d.reasoning_content ?? d.reasoning;
      if (typeof r === 'string') reasoning[i] = (reasoning[i] ?? '') + r;
      if (typeof d.refusal === 'string') refusal[i] = (refusal[i] ?? '') + d.refusal;
      for (const tc of d.tool_calls ?? []) {
        const key = `${i}:${tc.index}`;
        const prev = tools.get(key) ?? { name: '', arguments: '' };
        if (tc.function?.name) prev.name += tc.function.name;
        if (tc.function?.arguments) prev.arguments += tc.function.arguments;
        tools.set(key, prev);
      }
      if (c.finish_reason) finish[i] = c.finish_reason;
    }
  }
  const u = usage ?? groqUsage;
  return {
    text: texts[0] ?? '', texts, reasoning: reasoning[0] ?? '', refusal: refusal[0] ?? '',
    tool_call_names: [...tools.values()].map((t) => t.name),
    tool_call_arguments: [...tools.values()].map((t) => t.arguments),
    prompt_tokens: u?.prompt_tokens ?? null, completion_tokens: u?.completion_tokens ?? null,
    finish_reason: finish[0] ?? null, finish_reasons: finish, usage_only_chunk: usageOnly,
    error, done, events: events.length,
  };
}
