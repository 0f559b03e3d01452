// Prompts: every prompt and version with calls, quality, cost and latency; which experiments
// use a version; a side-by-side diff of two versions with their comparison.
import { enc, get } from './api.js';
import { el, replace, table } from './dom.js';
import { DASH, int, ms, num, pct, pValue, signedPct, usd } from './fmt.js';

// prompt@version → the experiments (and variants) that use it.
async function usage() {
  const list = await get('/api/v1/experiments');
  const used = new Map();
  for (const e of list.data || []) {
    for (const v of e.variants || []) {
      if (!v.prompt) continue;
      if (!used.has(v.prompt)) used.set(v.prompt, []);
      used.get(v.prompt).push({ experiment: e.name, variant: v.name });
    }
  }
  return used;
}

function usedBy(used, ref) {
  const list = used.get(ref) || [];
  if (!list.length) return el('span', { class: 'muted' }, 'none');
  return el('ul', { class: 'plain' }, list.map((u) =>
    el('li', {}, el('a', { href: `#/experiments/${enc(u.experiment)}` }, u.experiment), ` (${u.variant})`)));
}

function versionRows(p, used) {
  return (p.versions || []).map((v) => ({
    attrs: { 'data-version': v.version },
    cells: [
      el('th', { scope: 'row' }, el('a', { href: `#/prompts/${enc(p.name)}?v=${enc(v.version)}` }, v.version),
        el('div', { class: 'sub mono', title: v.hash ?? '' }, v.hash ? v.hash.slice(0, 15) : 'not configured')),
      el('td', { class: 'num', 'data-cell': 'calls' }, int(v.calls)),
      el('td', { class: 'num' }, pct(v.error_rate)),
      el('td', { class: 'num' }, pct(v.feedback?.success_rate)),
      el('td', { class: 'num' }, num(v.feedback?.score_mean)),
      el('td', { class: 'num' }, usd(v.cost_usd?.mean_per_call)),
      el('td', { class: 'num' }, usd(v.cost_usd?.total)),
      el('td', { class: 'num' }, `${ms(v.latency_ms?.p50)} / ${ms(v.latency_ms?.p95)}`),
      el('td', {}, usedBy(used, `${p.name}@${v.version}`)),
    ],
  }));
}

const HEAD = ['Version', 'Calls', 'Error rate', 'Feedback success', 'Mean score', 'Cost / call', 'Spend', 'Latency p50 / p95', 'Used by'];

export async function renderPrompts(view) {
  document.title = 'Prompts · Switchyard';
  const [list, used] = await Promise.all([get('/api/v1/prompts'), usage()]);
  const prompts = list.data || [];
  replace(view,
    el('header', { class: 'page-head' }, el('h1', {}, 'Prompts'),
      el('p', { class: 'muted' }, `${prompts.length} prompt${prompts.length === 1 ? '' : 's'} in the registry, with what each version did.`)),
    prompts.length ? prompts.map((p) => el('section', { class: 'card', 'aria-labelledby': `p-${p.name}`, 'data-prompt': p.name },
      el('h2', { id: `p-${p.name}` }, el('a', { href: `#/prompts/${enc(p.name)}` }, p.name)),
      table({ caption: `Versions of ${p.name}`, captionHidden: true, head: HEAD, rows: versionRows(p, used) })))
      : el('p', { class: 'notice notice-info' }, 'No prompts are configured (prompts: in the config).'));
}

/** One prompt: its versions, one version's text (?v=) or the diff of two (?a=&b=). */
export async function renderPrompt(view, name, query) {
  document.title = `${name} · Prompts · Switchyard`;
  const [p, used] = await Promise.all([get(`/api/v1/prompts/${enc(name)}`), usage()]);
  const versions = (p.versions || []).filter((v) => v.hash).map((v) => v.version);
  const a = query.get('a') || versions[0];
  const b = query.get('b') || versions[versions.length > 1 ? 1 : 0];
  const shown = query.get('v');
  const pick = (id, label, value) => el('label', { for: id }, label,
    el('select', { id, name: id }, versions.map((v) => el('option', { value: v, selected: v === value ? true : null }, v))));
  const form = el('form', { class: 'control-row', id: 'diff-form',
    onsubmit: (ev) => {
      ev.preventDefault();
      const fa = form.querySelector('#diff-a').value;
      const fb = form.querySelector('#diff-b').value;
      location.hash = `#/prompts/${enc(name)}?a=${enc(fa)}&b=${enc(fb)}`;
    } }, pick('diff-a', 'Left', a), pick('diff-b', 'Right', b), el('button', { class: 'btn', type: 'submit' }, 'Compare'));
  const parts = [
    el('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, el('a', { href: '#/prompts' }, 'Prompts'), ' / ', p.name),
    el('header', { class: 'page-head' }, el('h1', {}, p.name)),
    el('section', { class: 'card' }, el('h2', {}, 'Versions'), table({ caption: `Versions of ${p.name}`, captionHidden: true, head: HEAD, rows: versionRows(p, used) })),
  ];
  if (shown) {
    const v = await get(`/api/v1/prompts/${enc(name)}/versions/${enc(shown)}`);
    parts.push(el('section', { class: 'card', 'aria-labelledby': 'text-h' }, el('h2', { id: 'text-h' }, `${p.name}@${v.version}`),
      el('p', { class: 'muted' }, `${v.mode ?? DASH} · variables: ${(v.variables || []).join(', ') || 'none'} · ${v.hash ?? ''}`),
      el('pre', { class: 'prompt-text', tabindex: 0 }, v.text ?? '')));
  }
  parts.push(el('section', { class: 'card', 'aria-labelledby': 'diff-h' }, el('h2', { id: 'diff-h' }, 'Compare two versions'), form,
    a && b ? await diffView(name, a, b) : el('p', { class: 'muted' }, 'This prompt has one version.')));
  replace(view, ...parts);
}

async function diffView(name, a, b) {
  const c = await get(`/api/v1/prompts/${enc(name)}/compare?a=${enc(a)}&b=${enc(b)}`);
  const metrics = [['error_rate', 'Error rate', pct], ['success_rate', 'Feedback success', pct], ['latency_ms', 'Latency (mean)', ms], ['cost_usd', 'Cost / call', usd], ['score', 'Mean score', num]];
  const cmp = table({ caption: `${a} against ${b}`, head: ['Metric', a, b, 'Change', 'p-value'],
    rows: metrics.map(([k, label, f]) => {
      const m = c.vs?.[k] || {};
      const ci = Array.isArray(m.rel_ci) ? ` [${signedPct(m.rel_ci[0])}, ${signedPct(m.rel_ci[1])}]` : '';
      return [label, f(m.control), f(m.treatment), `${signedPct(m.rel)}${ci}`, pValue(m.p_value)];
    }) });
  return el('div', {}, cmp, sideBySide(c.diff || '', a, b));
}

/** The unified diff as two columns: removed lines left, added right, context on both. */
export function sideBySide(diff, a, b) {
  const rows = [];
  let l = 0, r = 0;
  let dels = [], adds = [];
  const flush = () => {
    for (let i = 0; i < Math.max(dels.length, adds.length); i++) {
      rows.push([dels[i] ?? null, adds[i] ?? null]);
    }
    dels = [];
    adds = [];
  };
  for (const line of diff.split('\n')) {
    if (line.startsWith('--- ') || line.startsWith('+++ ') || line.startsWith('\\')) continue;
    const h = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
    if (h) {
      flush();
      if (rows.length) rows.push('gap');
      l = Number(h[1]);
      r = Number(h[2]);
      continue;
    }
    if (line.startsWith('-')) dels.push({ n: l++, text: line.slice(1), kind: 'del' });
    else if (line.startsWith('+')) adds.push({ n: r++, text: line.slice(1), kind: 'add' });
    else if (line.startsWith(' ')) {
      flush();
      rows.push([{ n: l++, text: line.slice(1), kind: 'ctx' }, { n: r++, text: line.slice(1), kind: 'ctx' }]);
    }
  }
  flush();
  if (!rows.length) return el('p', { class: 'notice notice-info', 'data-diff': 'same' }, `${a} and ${b} have the same text.`);
  const side = (x) => x
    ? [el('td', { class: `ln diff-${x.kind}` }, String(x.n)), el('td', { class: `code diff-${x.kind}` }, x.kind === 'del' ? '− ' : x.kind === 'add' ? '+ ' : '  ', x.text)]
    : [el('td', { class: 'ln' }), el('td', { class: 'code diff-none' })];
  return el('div', { class: 'table-wrap' }, el('table', { class: 'diff', 'data-diff': 'changed' },
    el('caption', {}, `Side-by-side diff: ${a} (left) and ${b} (right)`),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col', colspan: 2 }, a), el('th', { scope: 'col', colspan: 2 }, b))),
    el('tbody', {}, rows.map((row) => row === 'gap'
      ? el('tr', { class: 'diff-gap' }, el('td', { colspan: 4 }, '⋯'))
      : el('tr', {}, side(row[0]), side(row[1]))))));
}
