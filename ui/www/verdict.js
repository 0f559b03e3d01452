// Shared readings of a report: the verdict chip, SRM health (Statsig's thresholds) and status.
import { chip } from './dom.js';
import { isNum, pValue } from './fmt.js';

const VERDICTS = {
  variant_better: ['better', 'good'],
  variant_worse: ['worse', 'bad'],
  no_detectable_difference: ['no difference', 'neutral'],
  collecting: ['collecting', 'info'],
  sample_ratio_mismatch: ['SRM: do not trust', 'bad'],
};

export function verdictChip(v) {
  if (!v) return chip('—', 'neutral');
  const [word, tone] = VERDICTS[v.state] || [v.state.replaceAll('_', ' '), 'neutral'];
  return chip(v.variant ? `${v.variant} ${word}` : word, tone, v.summary);
}

export function statusChip(status) {
  const tone = { running: 'good', paused: 'warn', concluded: 'info' }[status] || 'neutral';
  return chip(status || '—', tone);
}

/**
 * The SRM reading: red when p < 0.001, yellow when p < 0.01 (Statsig's banner), green otherwise,
 * grey without a test (no units yet).
 */
export function srmLevel(srm) {
  const p = srm?.p_value;
  if (!isNum(p)) return { tone: 'neutral', word: 'SRM: no data', text: 'No sample ratio test yet (no units).' };
  if (p < 0.001) {
    return { tone: 'bad', word: `SRM ${pValue(p)}`, text: `Sample ratio mismatch: p = ${p.toExponential(1)}, below 0.001. The split is not what the weights say; the results cannot be trusted until the cause is found.` };
  }
  if (p < 0.01) {
    return { tone: 'warn', word: `SRM ${pValue(p)}`, text: `Possible sample ratio mismatch: ${pValue(p)}, below 0.01. Watch the split.` };
  }
  return { tone: 'good', word: 'split OK', text: `The split matches the weights (${pValue(p)}).` };
}

export function srmChip(srm) {
  const l = srmLevel(srm);
  return chip(l.word, l.tone, l.text);
}
