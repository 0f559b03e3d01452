// The experiments list: status, variants with weights, units, verdict, health, age and phase.
import { enc, get } from './api.js';
import { chip, el, replace, table } from './dom.js';
import { DASH, age, int, isNum, weight } from './fmt.js';
import { clientSideChip, flagSrm } from './page-flag.js';
import { srmChip, statusChip, verdictChip } from './verdict.js';

export async function renderExperiments(view) {
  document.title = 'Experiments · Switchyard';
  const list = await get('/api/v1/experiments');
  const summaries = list.data || [];
  // The summary has no health: each report has it (SRM, guardrails, crossover units, phases).
  // A modelab flag (source "modelab", client-side) has no experiment report: its own is
  // /api/v1/flags/NAME.
  const reports = await Promise.all(summaries.map((s) =>
    get(s.source === 'modelab' ? `/api/v1/flags/${enc(s.name)}` : `/api/v1/experiments/${enc(s.name)}`).catch(() => null)));
  const rows = summaries.map((s, i) => {
    const r = reports[i];
    if (s.source === 'modelab') return flagRow(s, r);
    const counted = (s.variants || []).filter((v) => isNum(v.units));
    const units = counted.length ? counted.reduce((n, v) => n + v.units, 0) : null;
    const trips = r ? (r.guardrails || []).length : null;
    const cross = r?.phase?.units_multiple_variants;
    const start = r?.phases?.[0]?.start_unix;
    return {
      attrs: { 'data-experiment': s.name },
      cells: [
        el('th', { scope: 'row' }, el('a', { href: `#/experiments/${enc(s.name)}` }, s.name)),
        el('td', {}, statusChip(s.status)),
        el('td', {}, el('ul', { class: 'plain' }, (s.variants || []).map((v) =>
          el('li', {}, v.name, ' ', el('span', { class: 'muted' }, weight(v.weight)), v.paused ? [' ', chip('paused', 'bad')] : null)))),
        el('td', { class: 'num', 'data-cell': 'units' }, int(units)),
        el('td', {}, verdictChip(s.verdict)),
        el('td', { class: 'health-cell' }, r ? [srmChip(r.srm), ' ',
          trips ? chip(`${trips} guardrail trip${trips > 1 ? 's' : ''}`, 'bad') : null, ' ',
          cross ? chip(`${int(cross)} crossover`, 'warn', 'units that saw more than one variant') : null] : DASH),
        el('td', { class: 'num' }, age(start)),
        el('td', {}, r?.phase?.phase ? `${r.phase.phase}${r.phase.reason && r.phase.reason !== 'start' ? ` (${r.phase.reason.replaceAll('_', ' ')})` : ''}` : DASH),
      ],
    };
  });
  replace(view,
    el('header', { class: 'page-head' }, el('h1', {}, 'Experiments'),
      el('p', { class: 'muted' }, `${summaries.length} configured. Each is analysed live from the gateway's store.`)),
    summaries.length
      ? el('section', { class: 'card' }, table({ caption: 'Experiments', captionHidden: true, cls: 'experiments',
        head: ['Experiment', 'Status', 'Variants', 'Units', 'Verdict', 'Health', 'Age', 'Phase'], rows }))
      : el('p', { class: 'notice notice-info' }, 'No experiments are configured (experiments: in the config).'));
}

// A flag ingested from the modelab SDK: marked client-side, linked to its flag view.
function flagRow(s, r) {
  const counted = (s.variants || []).filter((v) => isNum(v.units));
  const units = counted.length ? counted.reduce((n, v) => n + v.units, 0) : null;
  const srm = r ? flagSrm(r.switchyard?.srm) : null;
  const first = r?.first_assigned_at ? Date.parse(r.first_assigned_at) / 1000 : null;
  return {
    attrs: { 'data-experiment': s.name, 'data-source': 'modelab' },
    cells: [
      el('th', { scope: 'row' }, el('a', { href: `#/flags/${enc(s.name)}` }, s.name), ' ', clientSideChip()),
      el('td', {}, statusChip(s.status)),
      el('td', {}, el('ul', { class: 'plain' }, (s.variants || []).map((v) =>
        el('li', {}, v.name, ' ', el('span', { class: 'muted' }, isNum(v.weight) ? weight(v.weight) : 'SDK weights'))))),
      el('td', { class: 'num', 'data-cell': 'units' }, int(units)),
      el('td', {}, verdictChip(s.verdict)),
      el('td', { class: 'health-cell' }, srm ? chip(srm.word, srm.tone, srm.text) : DASH),
      el('td', { class: 'num' }, age(Number.isFinite(first) ? first : null)),
      el('td', {}, DASH),
    ],
  };
}
