// Evaluations (docs/evaluations.md): the runs of variants against a golden dataset, and one run's
// report — per-variant pass rate with its Wilson interval, per-assertion and named-metric pass
// rates, latency, tokens, cost, and the paired McNemar comparisons. Shapes: src/jobs/eval_report.cpp
// (report_json, report_summary_json) and src/jobs/eval_service.cpp (running_json).
import { enc, get } from './api.js';
import { chip, el, replace, table } from './dom.js';
import { DASH, evalCell, int, isNum, pct, points, pValue, rateCell, time } from './fmt.js';

/** The status chip of a run: completed, running (with its progress), cancelled. */
export function evalStatusChip(e) {
  if (e?.status === 'running') {
    const p = e.progress;
    return chip(isNum(p?.done) && isNum(p?.total) ? `running ${int(p.done)}/${int(p.total)}` : 'running', 'info');
  }
  const tone = { completed: 'good', cancelled: 'warn' }[e?.status] || 'neutral';
  return chip(e?.status || DASH, tone);
}

/** The gate of a run: none, passed, failed (min_pass_rate of the run). */
export function gateChip(e) {
  if (!isNum(e?.min_pass_rate)) return el('span', { class: 'muted' }, 'no gate');
  if (e.status !== 'completed') return el('span', { class: 'muted' }, `≥ ${pct(e.min_pass_rate)}`);
  return e.gate_passed ? chip(`passed ≥ ${pct(e.min_pass_rate)}`, 'good') : chip(`failed ≥ ${pct(e.min_pass_rate)}`, 'bad');
}

/** Each variant of a summary with its pass rate and interval (a list, one item per variant). */
export function variantRates(e) {
  const vs = e?.variants || [];
  if (!vs.length) return el('span', { class: 'muted' }, e?.status === 'running' ? 'running…' : DASH);
  return el('ul', { class: 'plain' }, vs.map((v) => el('li', { 'data-variant': v.name },
    v.name, ' ', el('span', { 'data-cell': 'pass_rate' }, evalCell(v, 'pass_rate')), ' ',
    el('span', { class: 'muted', 'data-cell': 'pass_rate_ci' }, evalCell(v, 'pass_rate_ci')))));
}

/** A table of runs (the list page and the experiment page's section). */
export function evaluationsTable(runs, { caption, withExperiment = true } = {}) {
  const rows = runs.map((e) => ({
    attrs: { 'data-evaluation': e.id },
    cells: [
      el('th', { scope: 'row' }, el('a', { href: `#/evaluations/${enc(e.id)}` }, e.id)),
      withExperiment ? el('td', {}, el('a', { href: `#/experiments/${enc(e.experiment)}` }, e.experiment ?? DASH)) : null,
      el('td', { 'data-cell': 'dataset' }, e.dataset ?? DASH),
      el('td', { 'data-cell': 'status' }, evalStatusChip(e)),
      el('td', { class: 'num', 'data-cell': 'cases' }, int(e.cases)),
      el('td', { 'data-cell': 'variants' }, variantRates(e)),
      el('td', { 'data-cell': 'gate' }, gateChip(e)),
      el('td', { class: 'num', 'data-cell': 'when' }, time(e.created_at)),
    ].filter(Boolean),
  }));
  const head = ['Run', withExperiment ? 'Experiment' : null, 'Dataset', 'Status', 'Cases',
    'Pass rate per variant (95% Wilson interval)', 'Gate', 'Started'].filter(Boolean);
  return table({ caption, captionHidden: true, cls: 'evaluations', head, rows });
}

export async function renderEvaluations(view, query) {
  document.title = 'Evaluations · Switchyard';
  const experiment = query.get('experiment');
  const list = await get(`/api/v1/evaluations${experiment ? `?experiment=${enc(experiment)}` : ''}`);
  const runs = list?.data || [];
  replace(view,
    el('header', { class: 'page-head' }, el('h1', {}, experiment ? `Evaluations of ${experiment}` : 'Evaluations'),
      el('p', { class: 'muted' }, `${runs.length} run${runs.length === 1 ? '' : 's'}, newest first (running ones on top). `,
        'Each runs every case of a dataset through the variants of an experiment (switchyard eval, or POST /api/v1/evaluations).')),
    runs.length
      ? el('section', { class: 'card' }, evaluationsTable(runs, { caption: 'Evaluations' }))
      : el('p', { class: 'notice notice-info' }, 'No evaluations yet: run switchyard eval, or POST /api/v1/evaluations with the admin token.'));
}

export async function renderEvaluation(view, id) {
  const r = await get(`/api/v1/evaluations/${enc(id)}`);
  document.title = `${r.id ?? id} · Evaluations · Switchyard`;
  const head = [
    el('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, el('a', { href: '#/evaluations' }, 'Evaluations'), ' / ', r.id ?? id),
    el('header', { class: 'page-head' },
      el('h1', {}, `Evaluation ${r.id ?? id}`),
      el('div', { class: 'chips' }, evalStatusChip(r), ' ', gateChip(r)),
      el('p', { class: 'muted' }, 'Experiment ', el('a', { href: `#/experiments/${enc(r.experiment)}` }, r.experiment ?? DASH),
        ` · dataset ${r.dataset ?? DASH} · ${int(caseCount(r))} cases · started ${time(r.created_at)}`,
        isNum(r.finished_at) && r.finished_at > 0 ? ` · finished ${time(r.finished_at)}` : '')),
  ];
  if (r.status === 'running') {
    replace(view, head, el('p', { class: 'notice notice-info', role: 'status' },
      `Running: ${int(r.progress?.done)} of ${int(r.progress?.total)} requests done. Refresh for the report.`));
    return;
  }
  replace(view, head, variantsSection(r), assertionsSection(r), pairsSection(r), failuresSection(r));
}

// The summary's `cases` is a count; the whole report's is one entry per case and variant.
function caseCount(r) {
  if (!Array.isArray(r.cases)) return r.cases;
  const counts = (r.variants || []).map((v) => v.cases).filter(isNum);
  return counts.length ? Math.max(...counts) : null;
}

const MAX_FAILURES = 200;

// The failed cases with why (the request's error, or the failed assertions' reasons).
function failuresSection(r) {
  const failed = (Array.isArray(r.cases) ? r.cases : []).filter((c) => c && c.pass === false);
  const rows = failed.slice(0, MAX_FAILURES).map((c) => ({
    attrs: { 'data-case': c.case, 'data-variant': c.variant },
    cells: [c.case ?? DASH, c.variant ?? DASH, c.error ? chip('error', 'bad') : chip('failed', 'warn'),
      c.request_error || (c.assertions || []).filter((a) => !a.pass).map((a) => a.reason).join('; ') || DASH],
  }));
  return el('section', { class: 'card', 'aria-labelledby': 'eval-failed-h' },
    el('h2', { id: 'eval-failed-h' }, 'Failed cases'),
    failed.length > MAX_FAILURES ? el('p', { class: 'muted' }, `The first ${MAX_FAILURES} of ${int(failed.length)}; the whole report is GET /api/v1/evaluations/${r.id}.`) : null,
    rows.length ? table({ caption: 'Failed cases', captionHidden: true, cls: 'eval-failures', head: ['Case', 'Variant', 'Outcome', 'Why'], rows })
      : el('p', { class: 'muted' }, 'Every case passed.'));
}

function variantsSection(r) {
  const vs = r.variants || [];
  const cell = (v, key) => el('td', { class: 'num', 'data-cell': key }, evalCell(v, key));
  const rows = vs.map((v) => ({
    attrs: { 'data-variant': v.name },
    cells: [
      el('th', { scope: 'row', class: 'variant-name' }, v.name,
        el('div', { class: 'sub' }, `${v.prompt_version || 'no prompt'} · ${v.model || DASH}`)),
      cell(v, 'cases'), cell(v, 'passed'), cell(v, 'errors'),
      el('td', { class: 'num' }, el('span', { 'data-cell': 'pass_rate' }, evalCell(v, 'pass_rate')), ' ',
        el('span', { class: 'muted', 'data-cell': 'pass_rate_ci' }, evalCell(v, 'pass_rate_ci'))),
      cell(v, 'latency_p50'), cell(v, 'latency_p95'), cell(v, 'tokens'), cell(v, 'cost'),
    ],
  }));
  return el('section', { class: 'card', 'aria-labelledby': 'eval-variants-h' },
    el('h2', { id: 'eval-variants-h' }, 'Variants'),
    el('p', { class: 'muted' }, 'A case passes when its request succeeded and every assertion passed; the interval is the 95% Wilson score interval of the pass rate. Tokens are prompt + completion over all cases, cost the total.'),
    vs.length ? table({ caption: `Variants of evaluation ${r.id}`, captionHidden: true, cls: 'eval-variants',
      head: ['Variant', 'Cases', 'Passed', 'Errors', 'Pass rate (95% interval)', 'Latency p50', 'Latency p95', 'Tokens', 'Cost'], rows })
      : el('p', { class: 'muted' }, 'No variants in this report.'));
}

// Assertions (and named metrics) as rows, variants as columns: the same assertion side by side.
function rateTable(r, member, caption, cls) {
  const vs = r.variants || [];
  const names = [];
  for (const v of vs) for (const a of v[member] || []) if (!names.includes(a.name)) names.push(a.name);
  if (!names.length) return null;
  const rows = names.map((n) => ({
    attrs: { [`data-${member === 'metrics' ? 'metric' : 'assertion'}`]: n },
    cells: [el('th', { scope: 'row' }, n), ...vs.map((v) => {
      const a = (v[member] || []).find((x) => x.name === n);
      return el('td', { class: 'num', 'data-variant': v.name }, rateCell(a),
        member === 'metrics' && a ? el('span', { class: 'muted' }, ` mean score ${isNum(a.mean_score) ? a.mean_score.toFixed(3) : DASH}`) : null);
    })],
  }));
  return table({ caption, cls, head: [member === 'metrics' ? 'Metric' : 'Assertion', ...vs.map((v) => v.name)], rows });
}

function assertionsSection(r) {
  const per = rateTable(r, 'assertions', 'Pass rate per assertion (passed/total)', 'eval-assertions');
  const metrics = rateTable(r, 'metrics', 'Named metrics (passed/total, mean score)', 'eval-metrics');
  return el('section', { class: 'card', 'aria-labelledby': 'eval-assert-h' },
    el('h2', { id: 'eval-assert-h' }, 'Assertions'),
    per ?? el('p', { class: 'muted' }, 'No assertions.'), metrics);
}

function pairsSection(r) {
  const pairs = r.pairs || [];
  const rows = pairs.map((p) => ({
    attrs: { 'data-pair': `${p.a}|${p.b}` },
    cells: [
      el('th', { scope: 'row' }, `${p.a} vs ${p.b}`),
      el('td', { class: 'num', 'data-cell': 'both' }, int(p.both_passed)),
      el('td', { class: 'num', 'data-cell': 'only_a' }, int(p.only_a_passed)),
      el('td', { class: 'num', 'data-cell': 'only_b' }, int(p.only_b_passed)),
      el('td', { class: 'num', 'data-cell': 'neither' }, int(p.neither_passed)),
      el('td', { class: 'num', 'data-cell': 'difference' }, points(p.difference)),
      el('td', { class: 'num', 'data-cell': 'p_value' }, pValue(p.p_value)),
      el('td', { 'data-cell': 'method' }, p.method ?? DASH),
    ],
  }));
  return el('section', { class: 'card', 'aria-labelledby': 'eval-pairs-h' },
    el('h2', { id: 'eval-pairs-h' }, 'Paired comparisons (McNemar)'),
    el('p', { class: 'muted' }, 'Each pair of variants on the same cases: the cases only one of them passed decide McNemar\'s test (exact binomial below 25 discordant cases, else χ² with continuity correction). The difference is the first\'s pass rate minus the second\'s.'),
    pairs.length ? table({ caption: 'Paired comparisons', captionHidden: true, cls: 'eval-pairs',
      head: ['Pair', 'Both passed', 'Only first', 'Only second', 'Neither', 'Difference', 'p-value', 'Test'], rows })
      : el('p', { class: 'muted' }, 'One variant only: nothing to compare.'));
}
