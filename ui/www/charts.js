// uPlot charts (uPlot.iife.min.js defines the global uPlot; index.html loads it first), in the
// page's colours (CSS variables, light or dark), sized to their container.
import { el } from './dom.js';
import { DASH } from './fmt.js';

/** Up to 8 series colours, distinct in light and dark, read from the CSS (--series-N). */
export function seriesColor(i) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(`--series-${i % 8}`).trim();
  return v || '#4e79a7';
}

function cssVar(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

const live = new Set();  // charts on the page, resized with the window

window.addEventListener('resize', () => {
  for (const { u, box } of live) {
    if (box.isConnected) u.setSize({ width: Math.max(280, box.clientWidth), height: u.height });
  }
});

/** Destroys the charts that left the page (route changes). */
export function sweepCharts() {
  for (const c of [...live]) {
    if (!c.box.isConnected) {
      c.u.destroy();
      live.delete(c);
    }
  }
}

/**
 * A time-series chart in a <figure> with a caption. `xs` are unix seconds; each series has
 * `label`, `values` (numbers or null: a gap), optional `color`, `dash`, `scale`, `step`,
 * `fill`. `bands` are [upperIndex, lowerIndex] pairs of series indices (1-based as uPlot counts),
 * filled between. `axes` gives each scale its label and value formatter.
 * The figure's data-points counts the non-null points drawn, and `figure.uplot` is the chart
 * (the tests read both).
 */
export function timeChart({ title, description, xs, series, bands = [], axes = {}, height = 240, id }) {
  const fig = el('figure', { class: 'chart', id, 'aria-label': `${title}. ${description || ''}` },
    el('figcaption', {}, el('span', { class: 'chart-title' }, title), description ? el('span', { class: 'chart-desc' }, description) : null));
  const points = series.reduce((n, s) => n + s.values.filter((v) => typeof v === 'number' && Number.isFinite(v)).length, 0);
  fig.dataset.points = String(points);
  const box = el('div', { class: 'chart-box' });
  fig.append(box);
  if (!xs.length || points === 0) {
    box.append(el('p', { class: 'muted' }, 'No data yet.'));
    return fig;
  }
  const text = cssVar('--text-muted', '#666');
  const grid = cssVar('--grid', '#ddd');
  const scaleNames = [...new Set(series.map((s) => s.scale || 'y'))];
  const sparse = xs.length < 3;
  const opts = {
    width: 600,
    height,
    scales: { x: { time: true } },
    legend: { live: true },
    cursor: { focus: { prox: 16 } },
    series: [
      { label: 'time' },
      ...series.map((s, i) => ({
        label: s.label,
        scale: s.scale || 'y',
        stroke: s.color || seriesColor(i),
        width: s.width ?? 2,
        dash: s.dash,
        fill: s.fill,
        spanGaps: false,
        paths: s.step ? uPlot.paths.stepped({ align: 1 }) : undefined,
        points: { show: sparse || s.points, size: 7 },
        value: (u, v) => (v === null || v === undefined ? DASH : (axes[s.scale || 'y']?.format || String)(v)),
      })),
    ],
    bands: bands.map(([hi, lo], k) => ({ series: [hi, lo], fill: bandFill(k) })),
    axes: [
      { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
      ...scaleNames.map((name, i) => ({
        scale: name,
        side: i === 0 ? 3 : 1,
        label: axes[name]?.label,
        stroke: text,
        size: 64,
        grid: { show: i === 0, stroke: grid, width: 1 },
        ticks: { stroke: grid },
        values: (u, vals) => vals.map((v) => (axes[name]?.format || String)(v)),
      })),
    ],
  };
  for (const name of scaleNames) {
    if (axes[name]?.range) opts.scales[name] = { range: axes[name].range };
  }
  // A lone bucket would make a zero-width x range: widen it by an hour on each side.
  if (xs.length === 1) opts.scales.x = { time: true, range: [xs[0] - 3600, xs[0] + 3600] };
  const u = new uPlot(opts, [xs, ...series.map((s) => s.values)], box);
  fig.uplot = u; // what was drawn, for the browser tests and the devtools console
  const entry = { u, box };
  live.add(entry);
  requestAnimationFrame(() => {
    if (box.isConnected) u.setSize({ width: Math.max(280, box.clientWidth), height });
  });
  return fig;
}

function bandFill(k) {
  return cssVar(`--band-${k % 8}`, 'rgba(78,121,167,0.18)');
}
