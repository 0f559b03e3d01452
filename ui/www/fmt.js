// Formatting shared by every page (and by the browser tests, which format the API's numbers
// the same way to compare them with the page). No DOM here: node imports this file too.
// Every formatter shows a missing value (null, undefined, NaN, ±Infinity) as "—".

export const DASH = '—';

export function isNum(x) {
  return typeof x === 'number' && Number.isFinite(x);
}

/** An integer count: 12 345. */
export function int(x) {
  return isNum(x) ? Math.round(x).toLocaleString('en-US') : DASH;
}

/** A number with up to `digits` significant digits: 0.00123, 812, 1.2k is not used. */
export function num(x, digits = 3) {
  if (!isNum(x)) return DASH;
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  return Number(x.toPrecision(digits)).toString();
}

/** A share (0..1) as a percentage: 12.3%. */
export function pct(x, digits = 1) {
  return isNum(x) ? `${(x * 100).toFixed(digits)}%` : DASH;
}

/** A signed relative change (0.051 → +5.1%). */
export function signedPct(x, digits = 1) {
  if (!isNum(x)) return DASH;
  const s = (x * 100).toFixed(digits);
  return x > 0 ? `+${s}%` : `${s}%`;
}

/** Milliseconds: 0.4 ms, 812 ms, 1.30 s (a tenth below 10 ms: a local mock answers in less). */
export function ms(x) {
  if (!isNum(x)) return DASH;
  const a = Math.abs(x);
  if (a >= 1000) return `${(x / 1000).toFixed(2)} s`;
  return a < 10 ? `${Number(x.toFixed(1))} ms` : `${Math.round(x)} ms`;
}

/** US dollars, with enough digits for a per-request cost: $0.000123. */
export function usd(x) {
  if (!isNum(x)) return DASH;
  const a = Math.abs(x);
  if (a === 0) return '$0';
  if (a >= 100) return `$${x.toFixed(0)}`;
  if (a >= 1) return `$${x.toFixed(2)}`;
  return `$${Number(x.toPrecision(3))}`;
}

/** A p-value: p = 0.034, p < 0.001. */
export function pValue(p) {
  if (!isNum(p)) return DASH;
  if (p < 0.001) return 'p < 0.001';
  return `p = ${p.toFixed(3)}`;
}

/** A weight (0..1) as a share: 50%. */
export function weight(w) {
  return isNum(w) ? `${Number((w * 100).toPrecision(3))}%` : DASH;
}

/** How long ago a unix time was, relative to `now` (seconds): 5m, 3h, 2d. */
export function age(unix, now = Date.now() / 1000) {
  if (!isNum(unix)) return DASH;
  const s = Math.max(0, now - unix);
  if (s < 60) return `${Math.floor(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** A unix time as local date and time: 2026-12-02 07:15. */
export function time(unix) {
  if (!isNum(unix)) return DASH;
  const d = new Date(unix * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/**
 * The value of a metric of the report's variant (`v`) as the experiment page shows it;
 * `key` is a column of the per-variant table. The tests call this too.
 */
export function variantCell(v, key) {
  switch (key) {
    case 'units':
      return int(v.units);
    case 'requests':
      return int(v.requests);
    case 'error_rate':
      return pct(v.error_rate);
    case 'latency_p50':
      return ms(v.latency_ms?.p50);
    case 'latency_p95':
      return ms(v.latency_ms?.p95);
    case 'ttft_p50':
      return ms(v.ttft_ms?.p50);
    case 'ttft_p95':
      return ms(v.ttft_ms?.p95);
    case 'tokens':
      return num(isNum(v.input_tokens?.mean) && isNum(v.output_tokens?.mean)
        ? v.input_tokens.mean + v.output_tokens.mean : null);
    case 'cost':
      return usd(v.cost_usd?.mean_per_request);
    case 'feedback_rate':
      return pct(v.feedback?.success_rate);
    case 'score':
      return num(v.feedback?.score_mean);
    default:
      return DASH;
  }
}

/** An interval [lo, hi] of shares: [58.4%, 91.9%] (a Wilson interval of a pass rate). */
export function pctInterval(ci, digits = 1) {
  return Array.isArray(ci) && ci.length === 2 && isNum(ci[0]) && isNum(ci[1])
    ? `[${pct(ci[0], digits)}, ${pct(ci[1], digits)}]` : DASH;
}

/** A difference of two shares in percentage points: +40.0 pts. */
export function points(x) {
  if (!isNum(x)) return DASH;
  const s = (x * 100).toFixed(1);
  return x > 0 ? `+${s} pts` : `${s} pts`;
}

/** passed/total (rate) of a per-assertion or named-metric entry of an evaluation. */
export function rateCell(a) {
  return a ? `${int(a.passed)}/${int(a.total)} (${pct(a.pass_rate)})` : DASH;
}

/**
 * A cell of an evaluation's per-variant table (`v`: an entry of the report's `variants`, or of
 * a summary's, which has the first five keys only). The tests call this too.
 */
export function evalCell(v, key) {
  switch (key) {
    case 'cases':
      return int(v.cases);
    case 'passed':
      return int(v.passed);
    case 'errors':
      return int(v.errors);
    case 'pass_rate':
      return pct(v.pass_rate);
    case 'pass_rate_ci':
      return pctInterval(v.pass_rate_ci);
    case 'latency_p50':
      return ms(v.latency_ms?.p50);
    case 'latency_p95':
      return ms(v.latency_ms?.p95);
    case 'tokens':
      return int(isNum(v.prompt_tokens) && isNum(v.completion_tokens) ? v.prompt_tokens + v.completion_tokens : null);
    case 'cost':
      return usd(v.cost_usd);
    default:
      return DASH;
  }
}

/** A cell of a modelab flag's per-variant table (`v`: an entry of the flag report's `variants`). */
export function flagCell(v, key) {
  switch (key) {
    case 'assignments':
    case 'unique_users':
    case 'executions':
    case 'errors':
    case 'success_count':
    case 'failure_count':
      return int(v[key]);
    case 'error_rate':
    case 'success_rate':
      return pct(v[key]);
    case 'avg_latency_ms':
      return ms(v.avg_latency_ms);
    case 'avg_cost':
    case 'total_cost':
      return usd(v[key]);
    case 'avg_input_tokens':
    case 'avg_output_tokens':
      return num(v[key]);
    case 'custom_events': {
      const e = Object.entries(v.custom_events || {});
      return e.length ? e.map(([n, c]) => `${n} ${int(c)}`).join(', ') : DASH;
    }
    default:
      return DASH;
  }
}
