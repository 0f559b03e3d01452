// A modelab flag (docs/compat-modelab.md): a client-side experiment whose variants the SDK
// assigned, read from GET /api/v1/flags/{name} (src/compat/modelab_report.cpp): modelab's
// per-variant numbers and, beside them, Switchyard's always-valid comparisons, verdict and SRM.
import { enc, get } from './api.js';
import { chip, el, replace, table } from './dom.js';
import { DASH, flagCell, int, isNum, pValue } from './fmt.js';
import { comparison } from './page-experiment.js';
import { srmLevel, verdictChip } from './verdict.js';

/** The chip that marks a client-side (modelab SDK) experiment. */
export function clientSideChip() {
  return chip('client-side (modelab)', 'info', 'assigned by the modelab SDK, ingested through /api/v1/ingest/*');
}

/** The SRM reading of a flag: a chi-square test only when the designed weights are known. */
export function flagSrm(srm) {
  if (srm && srm.checked === false) {
    return { tone: 'neutral', word: 'SRM: weights unknown', text: `No sample ratio test: ${srm.reason ?? 'the designed weights are unknown'}.` };
  }
  return srmLevel(srm);
}

// [column title, flagCell keys, the comparison's metric, which side is better]
const COLUMNS = [
  ['Executions', ['executions'], null],
  ['Error rate', ['error_rate'], 'error_rate', 'lower'],
  ['Success rate', ['success_rate'], 'success_rate', 'higher'],
  ['Success / failure events', ['success_count', 'failure_count'], null],
  ['Avg latency', ['avg_latency_ms'], 'latency_ms', 'lower'],
  ['Avg cost / total', ['avg_cost', 'total_cost'], null],
  ['Avg tokens in / out', ['avg_input_tokens', 'avg_output_tokens'], null],
  ['Custom events', ['custom_events'], null],
];

export async function renderFlag(view, name) {
  const r = await get(`/api/v1/flags/${enc(name)}`);
  const sy = r.switchyard || {};
  const flag = r.flag_name ?? name;
  document.title = `${flag} · Switchyard`;
  const srm = flagSrm(sy.srm);
  const orphans = sy.orphans;
  replace(view,
    el('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, el('a', { href: '#/experiments' }, 'Experiments'), ' / ', flag),
    el('header', { class: 'page-head' },
      el('h1', {}, flag),
      el('div', { class: 'chips' }, clientSideChip(), ' ', verdictChip(sy.verdict)),
      el('p', { class: 'muted' }, `Assigned by the modelab SDK per user_id, first ${r.first_assigned_at ?? DASH}, last ${r.last_assigned_at ?? DASH}. `,
        'The gateway does not split this traffic: it analyses what the SDK sent.')),
    el('section', { class: `health health-${srm.tone}`, 'aria-label': 'Health',
      role: srm.tone === 'bad' ? 'alert' : null, 'data-tone': srm.tone },
    el('h2', { class: 'visually-hidden' }, 'Health'),
    el('p', { class: 'health-srm', 'data-srm': srm.tone }, srm.text),
    el('ul', { class: 'health-list' },
      el('li', { class: `health-item health-${srm.tone}`, 'data-health': 'srm' }, el('span', { class: 'health-label' }, 'SRM p-value'),
        el('span', { class: 'health-value' }, sy.srm?.checked ? pValue(sy.srm.p_value) : DASH)),
      el('li', { class: 'health-item health-neutral', 'data-health': 'orphans' }, el('span', { class: 'health-label' }, 'Orphan records (store-wide)'),
        el('span', { class: 'health-value' }, orphans ? `${int(orphans.executions)} executions, ${int(orphans.events)} events` : DASH)))),
    el('section', { class: 'card verdict', 'aria-labelledby': 'verdict-h' },
      el('h2', { id: 'verdict-h' }, 'Verdict'),
      el('p', { class: 'verdict-text', 'data-verdict': sy.verdict?.state ?? '' }, sy.verdict?.summary ?? DASH),
      el('p', { class: 'muted' }, `Primary metric: ${sy.verdict?.metric ?? DASH}, per ${sy.unit_of_analysis ?? 'event'}. `,
        `${sy.method === 'sequential' ? 'Always-valid' : 'Fixed-horizon'} intervals at α = ${isNum(sy.alpha) ? sy.alpha : DASH}, Holm-adjusted across variants.`)),
    variantTable(r, sy));
}

function variantTable(r, sy) {
  // Control first (the API sorts by name), then the treatments.
  const vs = [...(r.variants || [])].sort((a, b) => (b.variant_name === sy.control) - (a.variant_name === sy.control));
  const cmp = new Map((sy.comparisons || []).map((c) => [c.variant, c]));
  const rows = vs.map((v) => {
    const isControl = v.variant_name === sy.control;
    const cells = [
      el('th', { scope: 'row', class: 'variant-name' }, v.variant_name, isControl ? el('span', { class: 'muted' }, ' (control)') : null,
        el('div', { class: 'sub' }, `${flagCell(v, 'unique_users')} users · ${flagCell(v, 'assignments')} assignments`)),
    ];
    for (const [title, keys, metric, better] of COLUMNS) {
      const vals = keys.map((k, j) => [j ? ' / ' : null, el('span', { 'data-cell': k }, flagCell(v, k))]);
      const c = metric ? cmp.get(v.variant_name)?.[metric] : null;
      cells.push(el('td', { class: 'num metric', 'data-metric': keys[0] }, el('div', { class: 'val' }, vals),
        !isControl && c && c.valid !== false ? comparison(c, better, `${title} of ${v.variant_name}`) : null));
    }
    return { cells, attrs: { 'data-variant': v.variant_name } };
  });
  return el('section', { class: 'card', 'aria-labelledby': 'variants-h' },
    el('h2', { id: 'variants-h' }, 'Variants'),
    el('p', { class: 'muted' }, 'modelab\'s numbers per variant; against control, the bar is Switchyard\'s always-valid interval of the relative change (0 marked), green when better for sure, red when worse; ✱ = significant after Holm adjustment.'),
    vs.length ? table({ caption: `Variants of ${r.flag_name}`, captionHidden: true, cls: 'variants',
      head: ['Variant', ...COLUMNS.map((c) => c[0])], rows }) : el('p', { class: 'muted' }, 'No variants.'));
}
