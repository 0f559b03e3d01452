// One experiment: health banner, sample-size progress, the verdict, the per-variant table with
// each metric against control, charts, the prompts of its variants and the admin controls.
import { ApiError, enc, get, getOptional, post, token } from './api.js';
import { timeChart, seriesColor } from './charts.js';
import { chip, confirmDialog, el, errorBox, intervalBar, notice, replace, table } from './dom.js';
import { DASH, int, isNum, ms, num, pct, pValue, signedPct, time, variantCell, weight } from './fmt.js';
import { evaluationsTable } from './page-evaluations.js';
import { srmLevel, statusChip, verdictChip } from './verdict.js';

// The per-variant table: the value columns and the vs_control metric each is compared on.
const COLUMNS = [
  { key: 'error_rate', title: 'Error rate', cells: ['error_rate'], metric: 'error_rate', better: 'lower' },
  { key: 'latency', title: 'Latency p50 / p95', cells: ['latency_p50', 'latency_p95'], metric: 'latency_ms', better: 'lower', note: 'mean' },
  { key: 'ttft', title: 'TTFT p50 / p95', cells: ['ttft_p50', 'ttft_p95'], metric: 'ttft_ms', better: 'lower', note: 'mean' },
  { key: 'tokens', title: 'Tokens / request', cells: ['tokens'], metric: 'output_tokens', better: 'lower', note: 'output' },
  { key: 'cost', title: 'Cost / request', cells: ['cost'], metric: 'cost_usd', better: 'lower' },
  { key: 'feedback_rate', title: 'Feedback success', cells: ['feedback_rate'], metric: 'success_rate', better: 'higher' },
  { key: 'score', title: 'Mean score', cells: ['score'], metric: 'score', better: 'higher' },
];

export async function renderExperiment(view, name) {
  const [report, series] = await Promise.all([
    get(`/api/v1/experiments/${enc(name)}`),
    getOptional(`/api/v1/experiments/${enc(name)}/series`).catch(() => null),
  ]);
  const timeline = series ? null : await getOptional(`/api/v1/experiments/${enc(name)}/timeline`).catch(() => null);
  document.title = `${report.name} · Switchyard`;
  const variants = report.variants || [];
  replace(view,
    el('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, el('a', { href: '#/experiments' }, 'Experiments'), ' / ', report.name),
    el('header', { class: 'page-head' },
      el('h1', {}, report.name),
      el('div', { class: 'chips' }, statusChip(report.status), verdictChip(report.verdict)),
      el('p', { class: 'muted' },
        `Requests for model ${report.match?.model ?? DASH}, split per ${report.unit}`,
        report.phase?.phase ? ` · phase ${report.phase.phase} since ${report.phase.start ?? DASH}` : '',
        report.winner ? ` · winner: ${report.winner}` : '')),
    healthBanner(report, series),
    verdictSection(report),
    progressSection(report),
    variantTable(report),
    evaluationsSection(report),
    chartsSection(report, series, timeline),
    controlsSection(report),
    historySection(report),
  );
}

function healthBanner(r, series) {
  const srm = srmLevel(r.srm);
  const cross = r.phase?.units_multiple_variants;
  const crossShare = r.phase?.units_multiple_variants_share;
  let fallbacks = 0, fbRequests = 0;
  for (const h of Object.values(series?.health?.variants || {})) {
    if (isNum(h.fallbacks) && isNum(h.requests)) {
      fallbacks += h.fallbacks;
      fbRequests += h.requests;
    }
  }
  let events = 0, requests = 0;
  for (const v of r.variants || []) {
    requests += v.requests || 0;
    for (const n of Object.values(v.feedback?.events || {})) events += n;
  }
  const trips = (r.guardrails || []).length;
  const tone = srm.tone === 'bad' ? 'bad' : srm.tone === 'warn' || trips > 0 || cross > 0 ? 'warn' : 'good';
  const item = (label, value, t, id) => el('li', { class: `health-item health-${t}`, 'data-health': id },
    el('span', { class: 'health-label' }, label), el('span', { class: 'health-value' }, value));
  return el('section', { class: `health health-${tone}`, 'aria-label': 'Health', role: tone === 'bad' ? 'alert' : null, 'data-tone': tone },
    el('h2', { class: 'visually-hidden' }, 'Health'),
    el('p', { class: 'health-srm', 'data-srm': srm.tone }, srm.text),
    el('ul', { class: 'health-list' },
      item('SRM p-value', r.srm?.p_value === null || r.srm?.p_value === undefined ? DASH : pValue(r.srm.p_value), srm.tone, 'srm'),
      item('Crossover units', isNum(cross) ? `${int(cross)} (${pct(crossShare)})` : DASH, cross > 0 ? 'warn' : 'good', 'crossover'),
      item('Fallback rate', series?.health ? pct(fbRequests ? fallbacks / fbRequests : null) : DASH, fallbacks > 0 ? 'warn' : 'good', 'fallback'),
      item('Feedback coverage', pct(requests ? events / requests : null), 'neutral', 'coverage'),
      item('Guardrail trips', int(trips), trips > 0 ? 'bad' : 'good', 'guardrails')));
}

function verdictSection(r) {
  return el('section', { class: 'card verdict', 'aria-labelledby': 'verdict-h' },
    el('h2', { id: 'verdict-h' }, 'Verdict'),
    el('p', { class: 'verdict-text', 'data-verdict': r.verdict?.state ?? '' }, r.verdict?.summary ?? DASH),
    el('p', { class: 'muted' }, `Primary metric: ${r.verdict?.metric ?? DASH}. ${r.analysis?.note ?? ''}`,
      r.analysis?.unit_of_analysis ? ` Analysed per ${r.analysis.unit_of_analysis}.` : ''));
}

function progressSection(r) {
  const s = r.sample_size || {};
  const planned = s.planned_per_variant;
  const have = s.have_min;
  const share = isNum(planned) && planned > 0 && isNum(have) ? Math.min(1, have / planned) : null;
  const label = isNum(planned)
    ? `${int(have)} of ${int(planned)} planned per variant (${pct(share, 0)}) on ${s.metric}`
    : `${int(have)} per variant on ${s.metric ?? DASH}; no planned size yet (the control's baseline is unknown)`;
  return el('section', { class: 'card', 'aria-labelledby': 'progress-h' },
    el('h2', { id: 'progress-h' }, 'Sample size'),
    el('div', { class: 'progress-row' },
      el('progress', { id: 'sample-progress', max: 1, value: share ?? 0, 'aria-describedby': 'progress-label' }),
      el('span', { id: 'progress-label' }, label)),
    el('p', { class: 'muted' }, `Baseline ${num(s.baseline)}, minimum detectable effect ${pct(s.minimum_detectable_effect, 0)}`,
      isNum(s.remaining) ? `, about ${int(s.remaining)} more samples per variant.` : '.'));
}

export function comparison(c, better, what) {
  if (!c) return null;
  const ci = c.rel_ci;
  const ciText = Array.isArray(ci) && ci.some(isNum) ? `[${signedPct(ci[0])}, ${signedPct(ci[1])}]` : '';
  const label = `${what} vs control: ${signedPct(c.rel)} ${ciText} ${pValue(c.p_value)}`;
  const bar = intervalBar(c.rel, ci, better, label);
  return el('div', { class: 'cmp', title: `difference ${num(c.diff)}; Holm-adjusted ${pValue(c.p_adjusted)}` },
    bar,
    el('span', { class: `cmp-text cmp-${bar.dataset.tone}` }, signedPct(c.rel), ' ', el('span', { class: 'muted' }, ciText)),
    el('span', { class: 'cmp-p', 'data-p': c.p_value ?? '' }, pValue(c.p_value), c.significant ? ' ✱' : ''));
}

function promptLink(prompt, controlPrompt) {
  if (!prompt) return el('span', { class: 'muted' }, 'no prompt');
  const [pname, version] = prompt.split('@');
  const [cname, cversion] = (controlPrompt || '').split('@');
  const href = cname === pname && cversion && cversion !== version
    ? `#/prompts/${enc(pname)}?a=${enc(cversion)}&b=${enc(version)}`
    : `#/prompts/${enc(pname)}?v=${enc(version)}`;
  return el('a', { href, title: cname === pname && cversion !== version ? `diff against ${controlPrompt}` : 'the prompt version' }, prompt);
}

function variantTable(r) {
  const vs = r.variants || [];
  const control = vs[0];
  const paused = new Set(r.paused_variants || []);
  const trips = new Map((r.guardrails || []).map((g) => [g.variant, g]));
  const rows = vs.map((v, i) => {
    const cells = [
      el('th', { scope: 'row', class: 'variant-name' },
        el('span', { class: 'swatch', 'data-series': i % 8 }), v.name, i === 0 ? el('span', { class: 'muted' }, ' (control)') : null,
        el('div', { class: 'sub' }, `${weight(v.weight)} · ${v.model ?? 'model as asked'}`),
        el('div', { class: 'sub' }, promptLink(v.prompt, control?.prompt))),
      el('td', { class: 'num' }, el('span', { 'data-cell': 'units' }, variantCell(v, 'units'))),
      el('td', { class: 'num' }, el('span', { 'data-cell': 'requests' }, variantCell(v, 'requests'))),
    ];
    for (const col of COLUMNS) {
      const vals = col.cells.map((k, j) => [j ? ' / ' : null, el('span', { 'data-cell': k }, variantCell(v, k))]);
      cells.push(el('td', { class: 'num metric', 'data-metric': col.key },
        el('div', { class: 'val' }, vals),
        i > 0 ? comparison(v.vs_control?.[col.metric], col.better, `${col.title}${col.note ? ` (${col.note})` : ''} of ${v.name}`) : null));
    }
    const trip = trips.get(v.name);
    cells.push(el('td', { 'data-cell': 'guardrail' },
      paused.has(v.name) || v.paused ? chip('paused by guardrail', 'bad', trip ? `${trip.reason}: ${trip.detail}` : undefined)
        : trip ? chip('tripped earlier', 'warn', `${trip.reason}: ${trip.detail}`) : chip('ok', 'good')));
    return { cells, attrs: { 'data-variant': v.name } };
  });
  return el('section', { class: 'card', 'aria-labelledby': 'variants-h' },
    el('h2', { id: 'variants-h' }, 'Variants'),
    el('p', { class: 'muted' }, 'Each metric of a variant against control: the bar is the ',
      r.analysis?.method === 'sequential' ? 'always-valid ' : '', `${pct(1 - (r.analysis?.alpha ?? 0.05), 0)} interval of the relative change (0 marked), `,
      'green when it is better for sure, red when worse; ✱ = significant after Holm adjustment.'),
    table({ caption: `Variants of ${r.name} against control`, captionHidden: true, cls: 'variants',
      head: ['Variant', 'Units', 'Requests', ...COLUMNS.map((c) => c.title), 'Guardrail'], rows }));
}

// The latest offline evaluations of this experiment (the report's `evaluations`: running ones,
// then the five newest stored), linked to their reports.
function evaluationsSection(r) {
  if (!Array.isArray(r.evaluations)) return null;  // a gateway without evaluations
  const runs = r.evaluations;
  return el('section', { class: 'card', 'aria-labelledby': 'evaluations-h', id: 'experiment-evaluations' },
    el('h2', { id: 'evaluations-h' }, 'Evaluations'),
    runs.length
      ? [evaluationsTable(runs, { caption: `Latest evaluations of ${r.name}`, withExperiment: false }),
        el('p', {}, el('a', { href: `#/evaluations?experiment=${enc(r.name)}` }, `Every evaluation of ${r.name}`))]
      : el('p', { class: 'muted' }, 'No evaluations of this experiment yet (switchyard eval, or POST /api/v1/evaluations).'));
}

function chartsSection(r, series, timeline) {
  const names = (r.variants || []).map((v) => v.name);
  const figs = [];
  if (series && series.buckets?.length) {
    const b = series.buckets;
    const xs = b.map((x) => x.start);
    // Cumulative lift of the primary metric, with its interval band, per treatment.
    const lift = [];
    const bands = [];
    names.slice(1).forEach((n, k) => {
      const c = (x) => x.variants?.[n]?.cumulative;
      const col = seriesColor(k + 1);
      lift.push({ label: `${n} lift`, values: b.map((x) => pctOrNull(c(x)?.rel)), color: col });
      lift.push({ label: `${n} upper`, values: b.map((x) => pctOrNull(c(x)?.rel_ci?.[1])), color: col, width: 1, dash: [4, 4] });
      lift.push({ label: `${n} lower`, values: b.map((x) => pctOrNull(c(x)?.rel_ci?.[0])), color: col, width: 1, dash: [4, 4] });
      bands.push([3 * k + 2, 3 * k + 3]);
    });
    if (lift.length) {
      figs.push(timeChart({ id: 'chart-lift', title: `Cumulative lift on ${series.metric}`,
        description: `relative change vs ${series.control}, with its ${series.method === 'sequential' ? 'always-valid ' : ''}interval`,
        xs, series: lift, bands, axes: { y: { label: 'lift %', format: (v) => `${num(v, 3)}%` } } }));
    }
    const traffic = names.map((n, i) => ({ label: `${n} requests`, values: b.map((x) => x.variants?.[n]?.requests ?? null), color: seriesColor(i), scale: 'req' }));
    const weights = names.map((n, i) => ({ label: `${n} weight`, values: b.map((x) => pctOrNull(x.weights?.[n])), color: seriesColor(i), scale: 'w', step: true, dash: [2, 3], width: 1.5 }));
    figs.push(timeChart({ id: 'chart-traffic', title: 'Traffic and weights', description: 'requests per variant per bucket (left), weights (dashed, right)',
      xs, series: [...traffic, ...weights], axes: { req: { label: 'requests', format: (v) => int(v) }, w: { label: 'weight %', format: (v) => `${num(v, 3)}%`, range: [0, 100] } } }));
    const lat = [];
    names.forEach((n, i) => {
      lat.push({ label: `${n} p50`, values: b.map((x) => x.variants?.[n]?.latency_ms?.p50 ?? null), color: seriesColor(i) });
      lat.push({ label: `${n} p95`, values: b.map((x) => x.variants?.[n]?.latency_ms?.p95 ?? null), color: seriesColor(i), dash: [6, 4] });
    });
    figs.push(timeChart({ id: 'chart-latency', title: 'Latency percentiles', description: 'p50 (solid) and p95 (dashed) per variant',
      xs, series: lat, axes: { y: { label: 'latency', format: (v) => ms(v) } } }));
  } else if (timeline && timeline.buckets?.length) {
    const b = timeline.buckets;
    figs.push(timeChart({ id: 'chart-traffic', title: 'Traffic', description: 'requests per variant per hour',
      xs: b.map((x) => x.start),
      series: names.map((n, i) => ({ label: n, values: b.map((x) => x.variants?.[n]?.requests ?? null), color: seriesColor(i) })),
      axes: { y: { label: 'requests', format: (v) => int(v) } } }));
  }
  return el('section', { class: 'card', 'aria-labelledby': 'charts-h' },
    el('h2', { id: 'charts-h' }, 'Over time'),
    figs.length ? el('div', { class: 'charts' }, figs) : el('p', { class: 'muted' }, 'No traffic recorded yet.'));
}

function pctOrNull(x) {
  return isNum(x) ? x * 100 : null;
}

function controlsSection(r) {
  const out = el('div', { class: 'control-result', role: 'status', 'aria-live': 'polite', id: 'control-result' });
  const names = (r.variants || []).map((v) => v.name);
  const control = names[0];
  const split = (r.variants || []).map((v) => `${v.name} ${weight(v.weight)}`).join(', ');
  const act = async (title, body, payload, confirmWord, danger) => {
    const yes = await confirmDialog({ title, body, confirm: confirmWord, danger });
    if (!yes) return;
    out.replaceChildren();
    try {
      await post(`/api/v1/experiments/${enc(r.name)}`, payload);
      out.replaceChildren(notice(`${confirmWord}: done.`, 'good'));
      window.dispatchEvent(new CustomEvent('switchyard:refresh', { detail: { message: `${r.name}: ${confirmWord.toLowerCase()} done.` } }));
    } catch (e) {
      const why = e instanceof ApiError ? e.message : String(e);
      out.replaceChildren(errorBox(`Refused${e.status ? ` (${e.status})` : ''}: ${why}`));
    }
  };
  const pause = el('button', { class: 'btn', type: 'button', id: 'btn-pause', disabled: r.status === 'paused' ? true : null,
    onclick: () => act(`Pause ${r.name}?`,
      `Every request for this experiment will get control (${control}) until it is resumed. Units keep their assignment; the data collected so far is kept.`,
      { action: 'pause' }, 'Pause') }, 'Pause');
  const resume = el('button', { class: 'btn', type: 'button', id: 'btn-resume', disabled: r.status === 'running' && !(r.paused_variants || []).length ? true : null,
    onclick: () => act(`Resume ${r.name}?`,
      `Requests will be split by the weights again (${split}). Variants paused by a guardrail run again, and any winner is cleared.`,
      { action: 'resume' }, 'Resume') }, 'Resume');
  const inputs = (r.variants || []).map((v) => el('input', { type: 'number', min: 0, max: 100, step: 'any', value: isNum(v.weight) ? Number((v.weight * 100).toPrecision(4)) : 0,
    id: `w-${v.name}`, 'data-variant': v.name, inputmode: 'decimal' }));
  const setWeights = el('button', { class: 'btn', type: 'button', id: 'btn-weights',
    onclick: () => {
      const ws = inputs.map((i) => Number(i.value));
      const total = ws.reduce((a, b) => a + b, 0);
      if (ws.some((w) => !Number.isFinite(w) || w < 0) || total <= 0) {
        out.replaceChildren(errorBox('Weights must be numbers ≥ 0, not all 0.'));
        return;
      }
      const text = names.map((n, i) => `${n} ${num((ws[i] / total) * 100, 3)}%`).join(', ');
      act(`Set the weights of ${r.name}?`,
        `New units will be split ${text}. A new phase starts now: the analysis of the new phase begins from zero (the earlier phases stay readable).`,
        { action: 'set_weights', weights: ws.map((w) => w / total) }, 'Set weights');
    } }, 'Set weights…');
  const winner = el('select', { id: 'winner' }, names.map((n) => el('option', { value: n }, n)));
  const conclude = el('button', { class: 'btn btn-danger', type: 'button', id: 'btn-conclude',
    onclick: () => {
      const w = winner.value;
      const v = (r.variants || []).find((x) => x.name === w);
      act(`Conclude ${r.name} with ${w}?`,
        `Every request for this experiment will get ${w} (${v?.prompt ?? 'no prompt'}, ${v?.model ?? 'the model asked for'}). The experiment stops splitting traffic; resume undoes this.`,
        { action: 'conclude', winner: w }, 'Conclude', true);
    } }, 'Conclude…');
  return el('section', { class: 'card controls', 'aria-labelledby': 'controls-h' },
    el('h2', { id: 'controls-h' }, 'Controls'),
    el('p', { class: 'muted' }, token() ? 'Changes are sent with the admin token of this tab.' : 'Changes need the admin token (top right); without it the gateway refuses them.'),
    el('div', { class: 'control-row' }, pause, resume),
    el('fieldset', { class: 'control-row' }, el('legend', {}, 'Weights (%)'),
      inputs.map((input, i) => el('label', { for: input.id }, names[i], input)), setWeights),
    el('div', { class: 'control-row' }, el('label', { for: 'winner' }, 'Winner'), winner, conclude),
    out);
}

function historySection(r) {
  const phases = r.phases || [];
  const trips = r.guardrails || [];
  return el('section', { class: 'card', 'aria-labelledby': 'history-h' },
    el('h2', { id: 'history-h' }, 'Phases and guardrail events'),
    phases.length ? table({ caption: 'Phases', head: ['Phase', 'Start', 'Reason', 'Weights'],
      rows: phases.map((p) => [int(p.phase), time(p.start_unix), p.reason ?? DASH,
        (p.variants || []).map((n, i) => `${n} ${weight(p.weights?.[i])}`).join(', ')]) }) : el('p', { class: 'muted' }, 'One phase so far.'),
    trips.length ? table({ caption: 'Guardrail events', head: ['Variant', 'When', 'Reason', 'Detail'],
      rows: trips.map((g) => [g.variant, time(g.unix_seconds), g.reason, g.detail]) }) : el('p', { class: 'muted' }, 'No guardrail has tripped.'));
}

