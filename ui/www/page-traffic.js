// Traffic: requests, errors, tokens and spend per model and upstream over the last hours.
import { enc, getOptional } from './api.js';
import { seriesColor, timeChart } from './charts.js';
import { el, notice, replace, table } from './dom.js';
import { int, pct, usd } from './fmt.js';

const RANGES = [1, 3, 6, 24, 48];

export async function renderTraffic(view, query) {
  document.title = 'Traffic · Switchyard';
  const hours = RANGES.includes(Number(query.get('hours'))) ? Number(query.get('hours')) : 3;
  const t = await getOptional(`/api/v1/traffic?hours=${enc(hours)}`);
  const picker = el('nav', { class: 'control-row', 'aria-label': 'Time range' }, 'Last ',
    RANGES.map((h) => el('a', { href: `#/traffic?hours=${h}`, class: h === hours ? 'btn btn-primary' : 'btn', 'aria-current': h === hours ? 'page' : null }, `${h}h`)));
  const head = el('header', { class: 'page-head' }, el('h1', {}, 'Traffic'), picker);
  if (!t) {
    replace(view, head, notice('This gateway has no traffic API (GET /api/v1/traffic answered 404).', 'warn'));
    return;
  }
  const xs = t.buckets || [];
  const chart = (id, title, key, groups, fmt, label) => timeChart({ id, title, description: `per ${t.bucket_seconds / 60} min`, xs,
    series: groups.map((g, i) => ({ label: g.model ?? g.upstream, values: g[key] || [], color: seriesColor(i) })),
    axes: { y: { label, format: fmt } } });
  const models = t.models || [];
  const ups = t.upstreams || [];
  const totalsRows = (groups, name) => groups.map((g) => [g[name], int(g.totals?.requests), int(g.totals?.errors),
    pct(g.totals?.requests ? g.totals.errors / g.totals.requests : null), int(g.totals?.input_tokens), int(g.totals?.output_tokens), usd(g.totals?.cost_usd)]);
  const head2 = ['Requests', 'Errors', 'Error rate', 'Input tokens', 'Output tokens', 'Spend'];
  replace(view, head,
    el('p', { class: 'muted' }, `${int(t.totals?.requests)} requests, ${int(t.totals?.errors)} errors, ${int(t.totals?.tokens)} tokens, ${usd(t.totals?.cost_usd)} in the last ${t.hours} h (this gateway since its start; other replicas report their own).`),
    el('section', { class: 'card', 'aria-labelledby': 'by-model-h' }, el('h2', { id: 'by-model-h' }, 'Per model'),
      models.length ? [
        table({ caption: 'Traffic per model', captionHidden: true, head: ['Model', ...head2], rows: totalsRows(models, 'model') }),
        el('div', { class: 'charts' },
          chart('chart-requests', 'Requests', 'requests', models, int, 'requests'),
          chart('chart-errors', 'Errors', 'errors', models, int, 'errors'),
          chart('chart-tokens', 'Tokens', 'tokens', models, int, 'tokens'),
          chart('chart-spend', 'Spend', 'cost_usd', models, usd, 'USD')),
      ] : el('p', { class: 'muted' }, 'No traffic in this range.')),
    el('section', { class: 'card', 'aria-labelledby': 'by-upstream-h' }, el('h2', { id: 'by-upstream-h' }, 'Per upstream'),
      ups.length ? [
        table({ caption: 'Traffic per upstream', captionHidden: true, head: ['Upstream', ...head2], rows: totalsRows(ups, 'upstream') }),
        el('div', { class: 'charts' }, chart('chart-upstream-requests', 'Requests per upstream', 'requests', ups, int, 'requests'),
          chart('chart-upstream-errors', 'Errors per upstream', 'errors', ups, int, 'errors')),
      ] : el('p', { class: 'muted' }, 'No traffic in this range.')));
}
