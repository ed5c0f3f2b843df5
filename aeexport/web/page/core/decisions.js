/**
 * Decisions from a decision scorer's outputs (docs/bundle-format.md, "Decisions in the graph"):
 * the JavaScript port of aeruntime.decisions, equal to it bit for bit on the same p-values.
 *
 * - decisionCount(manifest): n, the calibration scores behind the p-values, or null (score-only bundle);
 * - graphThreshold(t): the float32 a graph compares with (the largest float32 <= t): the graph's
 *   label at threshold t is score > graphThreshold(t), which equals score > t for every float32 score;
 * - fprLabels(p, n, a): label = rint(p (n+1)) <= floor(a (n+1)): the threshold at false-positive rate a
 *   of the calibration scores;
 * - operatingPoint(a, n, calibration): what fprLabels does at a (aeruntime.decisions.operating_point): the
 *   rank, the score threshold, the expected false-positive rate and its 90% interval; operatingPointLine
 *   says it in aeruntime's words, character for character.
 */

import { AeBundleError } from './errors.js';
import { readInitializer, readModel } from './onnx.js';
import { ProtobufError } from './protobuf.js';

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
  const m = fprRank(fpr, n);
  return Uint8Array.from(pValues, (p) => (Math.round(p * (n + 1)) <= m ? 1 : 0));
}

/** m = floor(fpr (n+1)) (aeruntime.decisions.fpr_rank); INVALID_INPUT when no row could be flagged. */
export function fprRank(fpr, n) {
  const a = checkRate(fpr, 'fpr');
  const m = Math.floor(a * (n + 1) + 1e-9);
  if (m < 1) {
    const r = (1 / (n + 1)).toPrecision(3);
    throw new AeBundleError('INVALID_INPUT', `fpr ${a} is below the p-value resolution 1/(n+1) = ${r} of this bundle's ${n} calibration scores: no row could be flagged. Use fpr >= ${r}, or re-export with more held-out rows.`);
  }
  return m;
}

/**
 * The sorted finite calibration scores (Float64Array (n,)) stored in a decision scorer's graph (the scorer
 * file's bytes), or null (aeruntime.decisions.calibration_scores): the initializer manifest.decisions.p_value.initializer names.
 */
export function calibrationScores(manifest, scorerBytes) {
  if (decisionCount(manifest) === null || !scorerBytes) return null;
  const name = String((manifest.decisions.p_value || {}).initializer ?? 'aeexport_calibration_scores');
  let table;
  try {
    table = readInitializer(readModel(scorerBytes).graphBytes, name);
  } catch (e) {
    if (e instanceof ProtobufError) return null; // unreadable here (onnxruntime read it): no threshold to print
    throw e;
  }
  if (table === null || table.type !== 'float32') return null;
  return Float64Array.from(Array.from(table.data).filter(Number.isFinite)).sort();
}

/** The level of an operating point's interval (aeruntime.decisions.FPR_INTERVAL_LEVEL). */
export const FPR_INTERVAL_LEVEL = 0.9;

/**
 * The q quantile of Beta(a, b) for integers a, b >= 1 (aeruntime.decisions.beta_quantile): for integer
 * parameters P(Beta(a, b) <= x) = P(Binomial(a + b - 1, x) >= a), summed in log space, inverted by bisection.
 */
export function betaQuantile(q, a, b) {
  const n = a + b - 1;
  const logFact = new Float64Array(n + 1);
  for (let k = 2; k <= n; k++) logFact[k] = logFact[k - 1] + Math.log(k);
  const cdf = (x) => {
    const terms = [];
    for (let j = a; j <= n; j++) terms.push(logFact[n] - logFact[j] - logFact[n - j] + j * Math.log(x) + (n - j) * Math.log1p(-x));
    const top = Math.max(...terms);
    return Math.exp(top) * terms.reduce((s, t) => s + Math.exp(t - top), 0);
  };
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (mid > 0 && mid < 1 && cdf(mid) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** `x` as Python's format(x, f'.{digits}g') writes it (the figures of aeruntime's lines). */
export function formatG(x, digits = 6) {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : (x > 0 ? 'inf' : '-inf');
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const [mantissa, e] = x.toExponential(digits - 1).split('e');
  const exp = Number(e);
  const trim = (t) => (t.includes('.') ? t.replace(/0+$/, '').replace(/\.$/, '') : t);
  if (exp < -4 || exp >= digits) return `${trim(mantissa)}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return trim(x.toFixed(Math.max(digits - 1 - exp, 0)));
}

/**
 * The operating point p <= fpr of a decision scorer with n calibration scores (aeruntime.decisions.operating_point):
 * {fpr, calibrationScores: n, rank: m, expectedFpr: m / (n + 1), low, high, level, threshold} where the share of
 * unseen normal rows flagged lies in [low, high] with probability `level` (Beta(m, n + 1 - m)), and
 * `threshold` is the m-th largest calibration score (null when `calibration` (n sorted scores) is not given).
 */
export function operatingPoint(fpr, n, calibration = null, level = FPR_INTERVAL_LEVEL) {
  const m = fprRank(fpr, n);
  return {
    fpr: Number(fpr),
    calibrationScores: n,
    rank: m,
    expectedFpr: m / (n + 1),
    low: betaQuantile((1 - level) / 2, m, n + 1 - m),
    high: betaQuantile((1 + level) / 2, m, n + 1 - m),
    level,
    threshold: calibration && calibration.length === n ? calibration[n - m] : null,
  };
}

/** One line for a person, aeruntime's OperatingPoint.line(). */
export function operatingPointLine(op) {
  const thr = 'score > ' + (op.threshold === null ? '?' : formatG(op.threshold, 6));
  return `fpr ${formatG(op.fpr, 6)}: label 1 where ${thr} (the calibration score ranked ${op.rank} from the top of `
    + `${op.calibrationScores}); expected false-positive rate ${formatG(op.expectedFpr, 4)}, `
    + `${Math.round(op.level * 100)}% interval [${formatG(op.low, 4)}, ${formatG(op.high, 4)}] (which rows were held out moves it)`;
}
