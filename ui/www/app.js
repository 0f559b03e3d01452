// The dashboard's shell: hash routes (#/experiments/name), the token dialog, the nav.
import { ApiError, getOptional, setToken, token } from './api.js';
import { sweepCharts } from './charts.js';
import { el, errorBox } from './dom.js';
import { renderAlerts } from './page-alerts.js';
import { renderExperiment } from './page-experiment.js';
import { renderEvaluation, renderEvaluations } from './page-evaluations.js';
import { renderExperiments } from './page-experiments.js';
import { renderFlag } from './page-flag.js';
import { renderPrompt, renderPrompts } from './page-prompts.js';
import { renderTraffic } from './page-traffic.js';

const view = document.getElementById('view');
const flash = document.getElementById('flash');

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, q] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, query: new URLSearchParams(q || '') };
}

let rendering = 0;
let lastRoute = '';

async function route({ keepFocus = false } = {}) {
  const { parts, query } = parseHash();
  const section = parts[0] || 'experiments';
  const ticket = ++rendering;
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === (section === 'flags' ? 'experiments' : section)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  view.setAttribute('aria-busy', 'true');
  const target = el('div');
  try {
    if (section === 'experiments' && parts[1]) await renderExperiment(target, parts[1]);
    else if (section === 'experiments') await renderExperiments(target);
    else if (section === 'flags' && parts[1]) await renderFlag(target, parts[1]);
    else if (section === 'evaluations' && parts[1]) await renderEvaluation(target, parts[1]);
    else if (section === 'evaluations') await renderEvaluations(target, query);
    else if (section === 'prompts' && parts[1]) await renderPrompt(target, parts[1], query);
    else if (section === 'prompts') await renderPrompts(target);
    else if (section === 'alerts') await renderAlerts(target);
    else if (section === 'traffic') await renderTraffic(target, query);
    else target.replaceChildren(errorBox(`No page ${location.hash}.`), el('p', {}, el('a', { href: '#/experiments' }, 'Experiments')));
  } catch (e) {
    const msg = e instanceof ApiError ? e.message : `The page failed: ${e.message}`;
    target.replaceChildren(errorBox(msg));
    if (!(e instanceof ApiError)) console.warn(e);
  }
  if (ticket !== rendering) return;  // a newer route started meanwhile
  view.replaceChildren(...target.childNodes);
  view.removeAttribute('aria-busy');
  view.dataset.page = parts.length > 1 ? `${section}/${parts[1]}` : section;
  sweepCharts();
  const here = location.hash;
  if (!keepFocus && here !== lastRoute) {
    const h1 = view.querySelector('h1');
    if (h1) {
      h1.setAttribute('tabindex', '-1');
      h1.focus({ preventScroll: true });
    }
  }
  lastRoute = here;
  view.dataset.ready = String(ticket);
  updateBadge();
}

async function updateBadge() {
  const badge = document.getElementById('alert-badge');
  try {
    const a = await getOptional('/api/v1/alerts?state=active&limit=1');
    const n = a?.counts?.firing ?? 0;
    badge.hidden = !n;
    badge.textContent = n ? String(n) : '';
    badge.setAttribute('aria-label', `${n} firing`);
  } catch {
    badge.hidden = true;
  }
}

function say(message) {
  flash.replaceChildren(el('p', { class: 'notice notice-good' }, message));
  setTimeout(() => {
    if (flash.firstChild?.textContent === message) flash.replaceChildren();
  }, 6000);
}

// ---- the token dialog ----
const dialog = document.getElementById('token-dialog');
const tokenBtn = document.getElementById('token-btn');
const tokenInput = document.getElementById('token-input');

function showTokenState() {
  const set = Boolean(token());
  tokenBtn.textContent = set ? 'Admin token ✓' : 'Admin token';
  tokenBtn.setAttribute('aria-label', set ? 'Admin token (set for this tab)' : 'Admin token (not set)');
}

tokenBtn.addEventListener('click', () => {
  tokenInput.value = '';
  dialog.showModal();
  tokenInput.focus();
});
document.getElementById('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  setToken(tokenInput.value.trim());
  tokenInput.value = '';
  dialog.close();
  showTokenState();
  say(token() ? 'Token kept for this tab.' : 'Token forgotten.');
  route({ keepFocus: true });
});
document.getElementById('token-forget').addEventListener('click', () => {
  setToken('');
  dialog.close();
  showTokenState();
  say('Token forgotten.');
  route({ keepFocus: true });
});
document.getElementById('token-cancel').addEventListener('click', () => dialog.close());

document.getElementById('refresh').addEventListener('click', () => route({ keepFocus: true }));
document.getElementById('skip').addEventListener('click', (ev) => {
  ev.preventDefault();
  view.focus();
});

window.addEventListener('switchyard:refresh', (ev) => {
  if (ev.detail?.message) say(ev.detail.message);
  route({ keepFocus: true });
});
window.addEventListener('hashchange', () => route());
// Charts take their colours from the scheme: draw them again when it changes.
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => route({ keepFocus: true }));

showTokenState();
route();
