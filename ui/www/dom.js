// Small DOM helpers. Text always goes in as text (never innerHTML): API strings are data.

const SVG = 'http://www.w3.org/2000/svg';

/** el('a', {href: '#/x', class: 'c'}, 'text', child…); `on*` attributes become listeners. */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  append(e, children);
  return e;
}

function append(e, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== null && v !== undefined) e.setAttribute(k, String(v));
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

/** A chip: a short status word with a tone (good, bad, warn, info, neutral). */
export function chip(text, tone = 'neutral', title) {
  return el('span', { class: `chip chip-${tone}`, title }, text);
}

/** A table with a caption, header cells and rows (arrays of cells or {cells, attrs}). */
export function table({ caption, head, rows, cls, captionHidden = false }) {
  return el('div', { class: 'table-wrap' },
    el('table', { class: cls },
      caption ? el('caption', { class: captionHidden ? 'visually-hidden' : null }, caption) : null,
      el('thead', {}, el('tr', {}, head.map((h) =>
        typeof h === 'string' ? el('th', { scope: 'col' }, h) : el('th', { scope: 'col', ...h.attrs }, h.text)))),
      el('tbody', {}, rows.map((r) => {
        const { cells, attrs } = Array.isArray(r) ? { cells: r, attrs: {} } : r;
        return el('tr', attrs, cells.map((c, i) =>
          c instanceof Node && (c.tagName === 'TD' || c.tagName === 'TH') ? c
            : i === 0 ? el('th', { scope: 'row' }, c) : el('td', {}, c)));
      }))));
}

/** Replaces the children of `e`. */
export function replace(e, ...children) {
  e.replaceChildren();
  append(e, children);
  return e;
}

/** A visible error box (role=alert: screen readers announce it). */
export function errorBox(message) {
  return el('div', { class: 'notice notice-bad', role: 'alert' }, message);
}

export function notice(message, tone = 'info') {
  return el('div', { class: `notice notice-${tone}` }, message);
}

/**
 * Asks before doing something: a modal <dialog> (focus moves into it, Esc cancels) that says what
 * will happen. Resolves true on Confirm. `body` may be a node (e.g. a form part).
 */
export function confirmDialog({ title, body, confirm = 'Confirm', danger = false }) {
  return new Promise((resolve) => {
    const ok = el('button', { type: 'submit', class: danger ? 'btn btn-danger' : 'btn btn-primary', value: 'ok' }, confirm);
    const cancel = el('button', { type: 'button', class: 'btn', value: 'cancel' }, 'Cancel');
    const heading = el('h2', { id: 'dialog-title' }, title);
    const form = el('form', { method: 'dialog' }, heading, el('div', { class: 'dialog-body', id: 'dialog-desc' }, body),
      el('div', { class: 'dialog-actions' }, cancel, ok));
    const d = el('dialog', { 'aria-labelledby': 'dialog-title', 'aria-describedby': 'dialog-desc' }, form);
    let answered = false;
    const finish = (v) => {
      if (answered) return;
      answered = true;
      d.close();
      d.remove();
      resolve(v);
    };
    cancel.addEventListener('click', () => finish(false));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      finish(true);
    });
    d.addEventListener('cancel', (ev) => {
      ev.preventDefault();
      finish(false);
    });
    document.body.append(d);
    d.showModal();
    cancel.focus();
  });
}

/**
 * An interval bar: the confidence interval [lo, hi] of a relative change on an axis from -max to
 * +max with zero marked, and the point estimate. `better` says which side is good ('higher' or
 * 'lower') for the colour. Null values draw an empty axis.
 */
export function intervalBar(rel, ci, better, label) {
  const W = 120, H = 16, mid = W / 2;
  const ok = Array.isArray(ci) && ci.every((x) => typeof x === 'number' && Number.isFinite(x));
  const span = Math.max(0.05, ...(ok ? ci.map(Math.abs) : []), Number.isFinite(rel) ? Math.abs(rel) : 0);
  const x = (v) => mid + (Math.max(-span, Math.min(span, v)) / span) * (mid - 4);
  const kids = [svg('line', { x1: 2, x2: W - 2, y1: H / 2, y2: H / 2, class: 'ib-axis' }),
    svg('line', { x1: mid, x2: mid, y1: 1, y2: H - 1, class: 'ib-zero' })];
  let tone = 'neutral';
  if (ok) {
    const [lo, hi] = ci;
    if (lo > 0) tone = better === 'higher' ? 'good' : 'bad';
    else if (hi < 0) tone = better === 'higher' ? 'bad' : 'good';
    kids.push(svg('rect', { x: x(lo), y: 4, width: Math.max(1.5, x(hi) - x(lo)), height: H - 8, rx: 2, class: `ib-ci ib-${tone}` }));
  }
  if (Number.isFinite(rel)) kids.push(svg('circle', { cx: x(rel), cy: H / 2, r: 3, class: `ib-point ib-${tone}` }));
  const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'interval-bar', role: 'img', 'aria-label': label }, ...kids);
  s.dataset.tone = tone;
  return s;
}
