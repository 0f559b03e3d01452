// Alerts: the active ones (acknowledge with the admin token), acknowledged ones still holding,
// and the history; the configured rules.
import { ApiError, getOptional, post } from './api.js';
import { chip, el, errorBox, notice, replace, table } from './dom.js';
import { DASH, age, num, time } from './fmt.js';

const SEVERITY = { critical: 'bad', warning: 'warn', info: 'info' };

function scopeText(s) {
  const parts = Object.entries(s || {}).map(([k, v]) => `${k.replace('_', ' ')} ${v}`);
  return parts.length ? parts.join(', ') : 'global';
}

function alertRows(alerts, { ack, out }) {
  return alerts.map((a) => ({
    attrs: { 'data-alert': a.id, 'data-state': a.state },
    cells: [
      el('th', { scope: 'row' }, a.rule, el('div', { class: 'sub' }, a.metric ?? a.kind ?? '')),
      el('td', {}, chip(a.severity ?? DASH, SEVERITY[a.severity] || 'neutral')),
      el('td', {}, scopeText(a.scope)),
      el('td', { class: 'message' }, a.message ?? DASH),
      el('td', { class: 'num' }, a.value === null || a.value === undefined ? DASH : num(a.value, 4),
        a.threshold === null || a.threshold === undefined ? '' : el('div', { class: 'sub' }, `${a.comparison ?? ''} ${num(a.threshold, 4)}`)),
      el('td', {}, time(a.started_at), el('div', { class: 'sub' }, `${age(a.started_at)} ago`)),
      el('td', {}, a.state === 'resolved' ? `resolved ${time(a.resolved_at)}` : a.state,
        a.acknowledged_at ? el('div', { class: 'sub' }, `acknowledged ${time(a.acknowledged_at)}`) : null),
      ack ? el('td', {}, el('button', { class: 'btn', type: 'button', 'data-ack': a.id,
        'aria-label': `Acknowledge alert ${a.id}: ${a.message ?? a.rule}`,
        onclick: async (ev) => {
          ev.currentTarget.disabled = true;
          try {
            await post(`/api/v1/alerts/${encodeURIComponent(a.id)}/acknowledge`);
            window.dispatchEvent(new CustomEvent('switchyard:refresh', { detail: { message: `Alert ${a.id} acknowledged.` } }));
          } catch (e) {
            ev.target.disabled = false;
            out.replaceChildren(errorBox(`Refused${e instanceof ApiError && e.status ? ` (${e.status})` : ''}: ${e.message}`));
          }
        } }, 'Acknowledge')) : null,
    ],
  }));
}

const HEAD = ['Rule', 'Severity', 'Scope', 'Message', 'Value', 'Started', 'State'];

export async function renderAlerts(view) {
  document.title = 'Alerts · Switchyard';
  const [active, acked, all, config] = await Promise.all([
    getOptional('/api/v1/alerts?state=active'),
    getOptional('/api/v1/alerts?state=acknowledged'),
    getOptional('/api/v1/alerts?state=all&limit=200'),
    getOptional('/api/v1/alerts/config'),
  ]);
  const head = el('header', { class: 'page-head' }, el('h1', {}, 'Alerts'));
  if (!active) {
    replace(view, head, notice('This gateway has no alerts API (GET /api/v1/alerts answered 404).', 'warn'));
    return;
  }
  const out = el('div', { role: 'status', 'aria-live': 'polite', id: 'alert-result' });
  const history = (all?.data || []).filter((a) => a.state === 'resolved');
  replace(view, head,
    el('p', { class: 'muted' }, `${active.counts?.firing ?? 0} firing, ${active.counts?.acknowledged ?? 0} acknowledged, ${active.counts?.resolved ?? 0} resolved.`,
      config?.last_evaluation_at ? ` Rules evaluated every ${config.evaluation_interval_seconds} s; last at ${time(config.last_evaluation_at)}.` : ''),
    out,
    el('section', { class: 'card', 'aria-labelledby': 'active-h', id: 'active-alerts' }, el('h2', { id: 'active-h' }, 'Active'),
      active.data?.length ? table({ caption: 'Active alerts', captionHidden: true, cls: 'alerts', head: [...HEAD, 'Action'], rows: alertRows(active.data, { ack: true, out }) })
        : el('p', { class: 'notice notice-good', 'data-empty': 'active' }, 'No active alerts.')),
    el('section', { class: 'card', 'aria-labelledby': 'acked-h', id: 'acked-alerts' }, el('h2', { id: 'acked-h' }, 'Acknowledged, still holding'),
      acked?.data?.length ? table({ caption: 'Acknowledged alerts', captionHidden: true, cls: 'alerts', head: HEAD, rows: alertRows(acked.data, {}) })
        : el('p', { class: 'muted' }, 'None.')),
    el('section', { class: 'card', 'aria-labelledby': 'history-h', id: 'alert-history' }, el('h2', { id: 'history-h' }, 'History'),
      history.length ? table({ caption: 'Resolved alerts', captionHidden: true, cls: 'alerts', head: HEAD, rows: alertRows(history, {}) })
        : el('p', { class: 'muted' }, 'No resolved alerts yet.')),
    config ? el('section', { class: 'card', 'aria-labelledby': 'rules-h' }, el('h2', { id: 'rules-h' }, 'Rules'),
      table({ caption: 'Alert rules', captionHidden: true, head: ['Rule', 'Metric', 'Condition', 'Window', 'Scope', 'Severity'],
        rows: (config.rules || []).map((r) => [r.name, r.metric, r.comparison ? `${r.comparison} ${num(r.threshold, 4)}` : 'any trip',
          r.window_seconds ? `${num(r.window_seconds / 60)} min` : DASH,
          `${r.scope}${Object.keys(r.filter || {}).length ? ` (${scopeText(r.filter)})` : ''}`,
          `${r.severity}${r.always_on ? ' · always on' : ''}`]) })) : null);
}
