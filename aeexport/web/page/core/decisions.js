/**
 * Decisions from a decision scorer's outputs (docs/bundle-format.md, "Decisions in the graph"):
 * the JavaScript port of aeruntime.decisions, equal to it bit for bit on the same p-values.
 *
 * - decisionCount(manifest): n, the calibration scores behind the p-values, or null (score-only bundle);
 * - graphThreshold(t): the float32 a graph compares with (the largest float32 <= t): the graph's
 *   label at threshold t is score > graphThreshold(t), which equals score > t for every float32 score;
 * - fprLabels(p, n, a): label = rint(p (n+1)) <= floor(a (n+1)): the threshold at false-positive rate a
 *   of the calibration scores.
 */

import { AeBundleError } from './errors.js';

/** The scorer outputs of a decision scorer, in graph order. */
export const DECISION_OUTPUTS = ['score', 'label', 'p_value'];

/** n (manifest.decisions.p_value.calibration_scores) of a decision scorer, else null (aeruntime.decisions.decision_calibration). */
export function decisionCount(manifest) {
  const scorer = (manifest.graphs || {}).scorer || {};
  const section = manifest.decisions;
  if (JSON.stringify(scorer.outputs || []) !== JSON.stringify(DECISION_OUTPUTS) || !section || typeof section !== 'object') return null;
  const n = (section.p_value || {}).calibration_scores;
  return Number.isInteger(n) && n > 0 ? n : null;
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The largest float32 <= t (numpy: nextafter(float32(t), -inf) when float32(t) > t). */
export function graphThreshold(t) {
  const f = Math.fround(t);
  if (!(f > t)) return f;
  if (f === 0) return -1.401298464324817e-45; // the largest float32 below 0
  F32[0] = f;
  U32[0] += f > 0 ? -1 : 1;
  return F32[0];
}

/** `value` as a number in (0, 1), else AeBundleError INVALID_INPUT naming `what`. */
export function checkRate(value, what) {
  const v = typeof value === 'string' && value.trim() !== '' ? Number(value) : (typeof value === 'number' ? value : NaN);
  if (!(v > 0 && v < 1)) {
    throw new AeBundleError('INVALID_INPUT', `${what} must be a number in (0, 1), got ${JSON.stringify(value)}; e.g. 0.01.`);
  }
  return v;
}

/** n, or AeBundleError INVALID_INPUT: a score-only bundle cannot give `what`. */
export function requireDecisions(n, what) {
  if (n === null) {
    throw new AeBundleError('INVALID_INPUT', `${what} needs a bundle whose scorer outputs p_value (exported by aeexport with decisions); this bundle's scorer outputs score only. Re-export it with a current aeexport, or use the threshold.`);
  }
  return n;
}

/**
 * Labels (Uint8Array (rows,)) at false-positive rate `fpr`: 1 where p <= fpr, from the integer rank
 * rint(p (n+1)) behind each float32 p-value (aeruntime.decisions.fpr_labels).
 */
export function fprLabels(pValues, n, fpr) {
  const a = checkRate(fpr, 'fpr');
  const m = Math.floor(a * (n + 1) + 1e-9);
  if (m < 1) {
    const r = (1 / (n + 1)).toPrecision(3);
    throw new AeBundleError('INVALID_INPUT', `fpr ${a} is below the p-value resolution 1/(n+1) = ${r} of this bundle's ${n} calibration scores: no row could be flagged. Use fpr >= ${r}, or re-export with more held-out rows.`);
  }
  return Uint8Array.from(pValues, (p) => (Math.round(p * (n + 1)) <= m ? 1 : 0));
}
