/**
 * An aeexport bundle, host-agnostic: the one JavaScript core of the Node consumer
 * (examples/node/aebundle.js) and the browser page (../web.js). Reading bytes, hashing and
 * onnxruntime come from the host adapter; the checks, the golden vectors and the scoring
 * are here, once.
 *
 *   const bundle = await loadBundle(ort, host);   // sha256, metadata, partners checked; then sessions
 *   await bundle.checkGolden();                    // golden vectors within the manifest's tolerance
 *   const scores = await bundle.score(rows);       // Float32Array (n,), higher = more anomalous
 *   const labels = bundle.label(scores);           // Uint8Array (n,), 1 = anomaly (score > threshold)
 *
 * A host is `{ runtime, where, updateHint, sessionOptions, readManifest(), read(rel, what), sha256(bytes) }`:
 * `readManifest()` and `read()` give bytes (Uint8Array) or throw AeBundleError NOT_FOUND;
 * `read()` is only ever called with a path listed in manifest.files (checked by safeRel);
 * `sha256()` resolves to lowercase hex.
 */

import { AeBundleError } from './errors.js';
import {
  checkGraph, checkPartners, goldenFiles, goldenSets, integrityError, parseManifest, readGraph, safeRel,
} from './manifest.js';
import { readTensor, toNumbers } from './onnx.js';
import { checkStructure } from './structure.js';
import { checkThreshold, compare, prod, toBatch } from './rows.js';
import {
  calibrationScores, decisionCount, fprLabels, graphThreshold, operatingPoint, operatingPointLine, requireDecisions,
} from './decisions.js';
import { seriesOf } from './series.js';

export { AeBundleError } from './errors.js';
export { SUPPORTED_FORMAT_VERSIONS, readGraph, safeRel } from './manifest.js';
export { checkStructure } from './structure.js';
export { checkThreshold, compare, prod, toBatch } from './rows.js';
export { DECISION_OUTPUTS, fprLabels, graphThreshold, operatingPointLine } from './decisions.js';
export { AlarmRule, SeriesScorer, scoreSeries } from './series.js';

const DEFAULT_TOLERANCE = { atol: 1e-5, rtol: 1e-4 };

/** Element errors of a scaled residual, by the manifest's score.element_error (aeruntime.format.scores). */
const ELEMENT_ERRORS = {
  squared: (r) => Math.fround(r * r),
  absolute: (r) => Math.abs(r),
};
const SCORE_ELEMENT_ERRORS = { mse: 'squared', mae: 'absolute' };

export class Bundle {
  /** Use {@link loadBundle}. */
  constructor(ort, host, manifest, graphs, sessions, threshold, verify, calibration = null) {
    this.ort = ort;
    this.host = host;
    this.dir = host.where;
    this.manifest = manifest;
    /** role -> what readGraph returned */
    this.graphs = graphs;
    this.sessions = sessions;
    this.verify = verify;
    this.inputShape = manifest.input.shape.map(Number);
    this.latentShape = manifest.latent.shape.map(Number);
    this.width = prod(this.inputShape);
    this.kind = manifest.model.kind;
    this._threshold = threshold;
    this._queue = Promise.resolve();
    /** n calibration scores of a decision scorer (outputs score, label, p_value), else null */
    this.calibrationSize = decisionCount(manifest);
    /** the sorted calibration scores stored in a decision scorer's graph (Float64Array (n,)), else null */
    this.calibration = calibration;
    /** manifest.series of a series bundle (checked), else null */
    this.series = seriesOf(manifest);
  }

  /** Score above which a row is labelled an anomaly (label 1). */
  get threshold() { return this._threshold; }

  set threshold(value) { this._threshold = checkThreshold(value); }

  /** The bundle_id shared by the manifest and every graph. */
  get bundleId() { return this.manifest.bundle_id; }

  /** Names of the input features (manifest.input.feature_names), or null. */
  get featureNames() {
    const names = this.manifest.input.feature_names;
    return Array.isArray(names) ? names.map(String) : null;
  }

  /** A listed file's bytes, its sha256 checked against manifest.files (unless verify is off). */
  async readVerified(rel, what = 'bundle file') {
    return readListed(this.host, this.manifest, rel, what, this.verify);
  }

  /** One session run at a time (onnxruntime-web's wasm backend does not run a session concurrently). */
  _runFeeds(role, feeds) {
    const task = this._queue.then(() => this.sessions[role].run(feeds));
    this._queue = task.catch(() => {});
    return task;
  }

  async _run(role, inputs) {
    const info = this.manifest.graphs[role];
    const feeds = {};
    info.inputs.forEach((name, i) => { feeds[name] = inputs[i]; });
    const out = await this._runFeeds(role, feeds);
    return info.outputs.map((name) => out[name]);
  }

  _tensor(data, n, shape) {
    return new this.ort.Tensor('float32', data, [n, ...shape]);
  }

  /**
   * Latent codes of raw rows (VAE: the posterior mean `mu`).
   * @param x rows of shape (n, ...inputShape)
   * @returns {Promise<Tensor>} shape (n, ...latentShape)
   */
  async encode(x) {
    const { data, n } = toBatch(x, this.inputShape);
    return (await this._run('encoder', [this._tensor(data, n, this.inputShape)]))[0];
  }

  /** Every encoder output by name (VAE: `mu` and `logvar`). */
  async encodeAll(x) {
    const { data, n } = toBatch(x, this.inputShape);
    const outs = await this._run('encoder', [this._tensor(data, n, this.inputShape)]);
    return Object.fromEntries(this.manifest.graphs.encoder.outputs.map((name, i) => [name, outs[i]]));
  }

  /**
   * Reconstructions, in raw feature units, of latent codes.
   * @param z codes of shape (n, ...latentShape): a Tensor, typed array, array of rows or {data, shape}
   * @returns {Promise<Tensor>} shape (n, ...inputShape)
   */
  async decode(z) {
    const { data, n } = toBatch(z, this.latentShape, 'z');
    return (await this._run('decoder', [this._tensor(data, n, this.latentShape)]))[0];
  }

  /** decode(encode(x)): reconstructions in raw feature units, a Tensor of shape (n, ...inputShape). */
  async reconstruct(x) {
    return this.decode(await this.encode(x));
  }

  /**
   * Anomaly score of each row: higher = more anomalous. One scorer.onnx call per batch.
   * @param x rows of shape (n, ...inputShape): typed array, array of rows or {data, shape}
   * @param {{batchSize?: number}} [opts]
   * @returns {Promise<Float32Array>} shape (n,)
   */
  async score(x, opts) {
    return (await this._scoreAll(x, opts, false)).score;
  }

  /**
   * The decision scorer's outputs: score (Float32Array), label (Uint8Array, 1 = score > threshold),
   * pValue (Float32Array), each (n,). A score-only bundle: AeBundleError INVALID_INPUT.
   *
   * The label is the graph's own at the calibrated threshold. onnxruntime-node and -web list only a
   * graph's required inputs and cannot feed its optional `threshold` input (node ignores the feed, web
   * refuses it), so at another threshold t the label is the graph's rule on the graph's score,
   * score > graphThreshold(t) in float32: what the graph computes when t is fed (aeruntime feeds it).
   */
  async decide(x, opts) {
    requireDecisions(this.calibrationSize, 'label and p_value from the graph');
    const out = await this._scoreAll(x, opts, true);
    if (this._threshold !== this.manifest.threshold.value) {
      const t = graphThreshold(this._threshold);
      out.label = Uint8Array.from(out.score, (s) => (s > t ? 1 : 0));
    }
    return out;
  }

  async _scoreAll(x, { batchSize = 4096 } = {}, decide = false) {
    const { data, n } = toBatch(x, this.inputShape);
    const out = { score: new Float32Array(n) };
    if (decide) Object.assign(out, { label: new Uint8Array(n), pValue: new Float32Array(n) });
    for (let start = 0; start < n; start += batchSize) {
      const b = Math.min(batchSize, n - start);
      const got = await this._scoreBatch(data.subarray(start * this.width, (start + b) * this.width), b, decide);
      for (const key of Object.keys(out)) out[key].set(got[key], start);
    }
    return out;
  }

  async _scoreBatch(chunk, b, decide) {
    if (this.sessions.scorer) {
      const outs = await this._run('scorer', [this._tensor(chunk, b, this.inputShape)]);
      return decide ? { score: outs[0].data, label: outs[1].data, pValue: outs[2].data } : { score: outs[0].data };
    }
    // Bundles without scorer.onnx: the mean of the element errors (mse, mae), composed here.
    const err = await this.featureErrors(chunk);
    const out = new Float32Array(b);
    for (let r = 0; r < b; r++) {
      let s = 0;
      for (let j = 0; j < this.width; j++) s += err[r * this.width + j];
      out[r] = s / this.width;
    }
    return { score: out };
  }

  /** Labels of scores: 1 = anomaly (score > threshold), 0 = normal. */
  label(scores) {
    return Uint8Array.from(scores, (s) => (s > this._threshold ? 1 : 0));
  }

  /**
   * Labels at false-positive rate `fpr` of the calibration scores: p_value <= fpr (aeruntime's
   * predict(x, fpr=)); needs a decision scorer.
   */
  fprLabels(pValues, fpr) {
    return fprLabels(pValues, requireDecisions(this.calibrationSize, 'fpr'), fpr);
  }

  /**
   * What fprLabels does at `fpr` (aeruntime's model.operating_point): {fpr, calibrationScores, rank,
   * expectedFpr, low, high, level, threshold, line}; `line` is aeruntime's one line, word for word.
   */
  operatingPoint(fpr) {
    const op = operatingPoint(fpr, requireDecisions(this.calibrationSize, 'operatingPoint()'), this.calibration);
    return { ...op, line: operatingPointLine(op) };
  }

  /** score(x) then label(): (n,) Uint8Array, 1 = anomaly. */
  async predict(x, opts) {
    return this.label(await this.score(x, opts));
  }

  /**
   * Element errors of each row under the bundle's score (aeruntime.explain.feature_errors):
   * ((x - x_hat) / scale)^2 for mse, |x - x_hat| / scale for mae, in float32; their row mean is the score.
   * @param x rows of shape (n, ...inputShape)
   * @param xhat their reconstructions (a Tensor or n * width values), computed when null
   * @returns {Promise<Float32Array>} n * width values
   */
  async featureErrors(x, xhat = null) {
    const { data } = toBatch(x, this.inputShape);
    const section = this.manifest.score;
    const fn = ELEMENT_ERRORS[SCORE_ELEMENT_ERRORS[section.name] || section.element_error];
    if (!fn) {
      throw new AeBundleError('METADATA', `this bundle's score ${JSON.stringify(section.name)} has no per-feature decomposition; feature errors, explanations and scoring without scorer.onnx support the scores mse and mae.`);
    }
    const rec = xhat === null ? (await this.reconstruct(data)).data : (xhat.data || xhat);
    const scale = this.manifest.scaler.scale.map((v) => Math.fround(Number(v)));
    const out = new Float32Array(data.length);
    for (let i = 0; i < out.length; i++) {
      out[i] = fn(Math.fround(Math.fround(data[i] - rec[i]) / scale[i % this.width % scale.length]));
    }
    return out;
  }

  /**
   * The topK features contributing most to each row's score: aeruntime's Model.explain, ported.
   * Per row the indices sorted by error, largest first, ties keeping the lower index first
   * (numpy's stable argsort of -err); share = error / row total (0 when the total is 0);
   * score = mean of the row's element errors.
   * @param {Float32Array} err n * width element errors (featureErrors)
   * @returns {{indices: number[][], errors: number[][], shares: number[][], scores: Float32Array, names: string[][]|null}}
   */
  explainErrors(err, n, topK = 3, featureNames = this.featureNames) {
    const w = this.width;
    if (!Number.isInteger(topK) || topK < 1 || topK > w) {
      throw new AeBundleError('INVALID_INPUT', `topK must be an integer in [1, ${w}] (the number of input features), got ${topK}.`);
    }
    if (featureNames && featureNames.length !== w) {
      throw new AeBundleError('INVALID_INPUT', `featureNames has ${featureNames.length} names, but the bundle has ${w} input features.`);
    }
    const indices = [];
    const errors = [];
    const shares = [];
    const scores = new Float32Array(n);
    const order = new Array(w);
    for (let r = 0; r < n; r++) {
      const row = err.subarray(r * w, (r + 1) * w);
      for (let j = 0; j < w; j++) order[j] = j;
      order.sort((a, b) => (row[b] - row[a]) || (a - b));
      let total = 0;
      for (let j = 0; j < w; j++) total += row[j];
      total = Math.fround(total);
      const idx = order.slice(0, topK);
      indices.push(idx);
      errors.push(idx.map((j) => row[j]));
      shares.push(idx.map((j) => (total > 0 ? Math.fround(row[j] / total) : 0)));
      scores[r] = Math.fround(total / w);
    }
    const names = featureNames ? indices.map((idx) => idx.map((j) => featureNames[j])) : null;
    return { indices, errors, shares, scores, names };
  }

  /** explainErrors of featureErrors(x): the topK features of each row of x. */
  async explain(x, topK = 3, featureNames = this.featureNames) {
    const err = await this.featureErrors(x);
    return this.explainErrors(err, err.length / this.width, topK, featureNames);
  }

  /**
   * Run every golden vector set (test_data/<graph>/test_data_set_N, the files listed in the
   * manifest) through its graph and compare with the stored outputs within the tolerance
   * (golden.tolerances[role], the decoder's in raw feature units, refines golden.tolerance).
   * @returns {Promise<object[]>} one row per output: role, set, output, batch, maxAbs, maxRel, ok
   * @throws {AeBundleError} GOLDEN on the first violation
   */
  async checkGolden() {
    const golden = this.manifest.golden || {};
    const rows = [];
    for (const role of Object.keys(this.manifest.graphs)) {
      const tol = { ...DEFAULT_TOLERANCE, ...(golden.tolerance || {}), ...((golden.tolerances || {})[role] || {}) };
      const sets = goldenSets(this.manifest, role);
      if (sets.length === 0) {
        throw new AeBundleError('GOLDEN', `no golden vectors for the ${role} graph (expected test_data/${role}/test_data_set_N/ in manifest.files); re-export the bundle with a current aeexport.`);
      }
      for (const set of sets) rows.push(...await this._checkSet(role, set, tol));
    }
    return rows;
  }

  async _checkSet(role, set, tol) {
    const session = this.sessions[role];
    const base = `test_data/${role}/${set}`;
    const feeds = {};
    const inNames = session.inputNames;
    const inputs = goldenFiles(this.manifest, base, 'input');
    for (let i = 0; i < inputs.length; i++) {
      const t = await this._goldenTensor(inputs[i]);
      feeds[t.name || inNames[i]] = new this.ort.Tensor(t.type, t.data, t.dims);
    }
    const missing = inNames.filter((name) => !(name in feeds));
    if (missing.length) {
      throw new AeBundleError('GOLDEN', `${base} has no input for ${role} input(s) ${JSON.stringify(missing)} (tensor names must equal graph input names); re-export the bundle.`);
    }
    const out = await this._runFeeds(role, feeds);
    const batch = Number(feeds[inNames[0]].dims[0]);
    const outputs = goldenFiles(this.manifest, base, 'output');
    if (outputs.length === 0) throw new AeBundleError('GOLDEN', `${base} holds no output_0.pb; re-export the bundle.`);
    const rows = [];
    for (let i = 0; i < outputs.length; i++) {
      const rel = outputs[i];
      const exp = await this._goldenTensor(rel);
      const name = exp.name || session.outputNames[i];
      const got = out[name];
      if (!got) {
        throw new AeBundleError('GOLDEN', `${rel} names output ${JSON.stringify(name)}, which the ${role} graph does not have (outputs: ${JSON.stringify(session.outputNames)}).`);
      }
      const shapeOk = JSON.stringify(got.dims.map(Number)) === JSON.stringify(exp.dims);
      const gotN = toNumbers(got.type, got.data);
      const expN = toNumbers(exp.type, exp.data);
      const c = compare(gotN, expN, this._decisionTolerance(role, name, tol));
      if (!c.ok && role === 'scorer' && name === 'label' && out.score) {
        c.ok = this._labelsAgreeButAtTies(gotN, expN, toNumbers(out.score.type, out.score.data), tol);
      }
      rows.push({ role, set, output: name, batch, maxAbs: c.maxAbs, maxRel: c.maxRel, ok: c.ok && shapeOk });
      if (!shapeOk) {
        throw new AeBundleError('GOLDEN', `golden vector ${rel}: the ${role} output ${JSON.stringify(name)} has shape [${got.dims}], but the stored expected output has [${exp.dims}]. The graph or the golden vector was modified; re-export the bundle.`);
      }
      if (!c.ok) {
        throw new AeBundleError('GOLDEN', `golden vector ${rel} fails: the ${role} output ${JSON.stringify(name)} differs from the stored expected values beyond the tolerance (atol ${tol.atol}, rtol ${tol.rtol}): max abs diff ${c.maxAbs.toExponential(3)}, max rel diff ${c.maxRel.toExponential(3)}; worst at element ${c.worst}: got ${gotN[c.worst]}, expected ${expN[c.worst]}. The graph or the golden vector was modified, or ${this.host.runtime} computes differently; re-export or re-copy the bundle.`);
      }
    }
    return rows;
  }

  /**
   * The tolerance of a decision output: a row whose score ties a stored calibration score exactly (the
   * held-out rows are the calibration rows) can land one float32 step away on another runtime (wasm),
   * moving its p-value by one calibration rank, 1 / (n + 1); every other output keeps ``tol``.
   */
  _decisionTolerance(role, name, tol) {
    if (role !== 'scorer' || name !== 'p_value' || !this.calibrationSize) return tol;
    return { ...tol, atol: tol.atol + 1 / (this.calibrationSize + 1) };
  }

  /** Labels equal but where the score is within ``tol`` of the threshold (the same tie, on the label). */
  _labelsAgreeButAtTies(got, expected, scores, tol) {
    const t = this._threshold;
    for (let i = 0; i < got.length; i++) {
      if (got[i] !== expected[i] && !(Math.abs(scores[i] - t) <= tol.atol + tol.rtol * Math.abs(t))) return false;
    }
    return got.length === expected.length;
  }

  async _goldenTensor(rel) {
    const bytes = await this.readVerified(rel, 'golden vector');
    try {
      return readTensor(bytes);
    } catch (e) {
      throw new AeBundleError('GOLDEN', `golden vector ${rel} is not a readable TensorProto (${e.message}); re-export the bundle.`);
    }
  }

  /** Golden input rows of the scorer (or encoder): a few real rows to try the model on, each width values. */
  async goldenRows() {
    const role = this.manifest.graphs.scorer ? 'scorer' : 'encoder';
    const rels = Object.keys(this.manifest.files).filter((f) => f.startsWith(`test_data/${role}/`) && f.endsWith('/input_0.pb'));
    if (rels.length === 0) {
      throw new AeBundleError('GOLDEN', 'this bundle has no golden vectors (a slim bundle without test_data/), so there are no example rows; drop a CSV instead.');
    }
    const rows = [];
    for (const rel of rels.sort()) {
      const t = await this._goldenTensor(rel);
      const data = Float32Array.from(toNumbers(t.type, t.data));
      for (let r = 0; r < t.dims[0]; r++) rows.push(data.subarray(r * this.width, (r + 1) * this.width));
    }
    return rows;
  }

  /** A short JSON-serializable summary. */
  info() {
    const m = this.manifest;
    return {
      path: this.dir,
      format_version: m.format_version,
      bundle_id: m.bundle_id,
      kind: this.kind,
      input_shape: this.inputShape,
      latent_shape: this.latentShape,
      score: m.score.name,
      threshold: this._threshold,
      threshold_method: m.threshold.method,
      outputs: m.graphs.scorer ? m.graphs.scorer.outputs : null,
      calibration_scores: this.calibrationSize,
      series: this.series,
      graphs: Object.fromEntries(Object.entries(this.graphs).map(([role, g]) => [role, {
        file: m.graphs[role].file, role: g.role, graph_sha256: g.graphSha256, inputs: this.sessions[role].inputNames,
        outputs: this.sessions[role].outputNames, partners: Object.keys(g.partners),
      }])),
    };
  }
}

/** Read a file listed in manifest.files and (when verify) check its sha256 against the record. */
async function readListed(host, manifest, rel, what, verify = true) {
  const expected = manifest.files[rel];
  if (expected === undefined) {
    throw new AeBundleError('INTEGRITY', `${rel} is not listed in manifest.files, so its integrity cannot be checked; re-export the bundle.`);
  }
  const bytes = await host.read(safeRel(rel), what);
  if (verify) {
    const actual = await host.sha256(bytes);
    if (actual !== expected) throw integrityError(rel, actual, expected);
  }
  return bytes;
}

/**
 * Open a bundle through a host adapter: read and check manifest.json; with `verifyAll`
 * check the sha256 of every listed file; read every graph, check its sha256, its structure
 * (core/structure.js: the operator allow-list, no subgraphs, functions, custom domains or
 * ORT-format files), its graph's sha256 and its metadata against the manifest (role,
 * bundle_id, threshold, kind, score, shapes, names, partners: core/manifest.js); only then
 * create one onnxruntime session per graph and check its input and output names.
 *
 * @param ort the onnxruntime module (onnxruntime-node or onnxruntime-web)
 * @param host the host adapter (see the top of this file)
 * @param {{threshold?: number, verify?: boolean, verifyAll?: boolean, sessionOptions?: object,
 *   onStep?: (text: string) => void}} [opts] threshold overrides manifest.threshold.value;
 *   verify=false skips the sha256 of files (the metadata checks still run)
 * @returns {Promise<Bundle>}
 */
export async function loadBundle(ort, host, { threshold, verify = true, verifyAll = false, sessionOptions, onStep = () => {} } = {}) {
  onStep('reading manifest.json');
  const manifest = parseManifest(await host.readManifest(), 'manifest.json', host.updateHint);
  Object.keys(manifest.files).forEach(safeRel); // every listed path inside the bundle, before anything is read
  if (verify && verifyAll) {
    for (const rel of Object.keys(manifest.files)) await readListed(host, manifest, rel, 'bundle file');
  }
  const graphs = {};
  const bytesOf = {};
  for (const [role, info] of Object.entries(manifest.graphs)) {
    onStep(`verifying ${info.file} (sha256)`);
    const bytes = await readListed(host, manifest, info.file, `the ${role} graph`, verify);
    checkStructure(info.file, bytes); // ORT format, operators, subgraphs, functions, domains, shapes
    const g = await readGraph(bytes, info.file, host.sha256);
    checkGraph(manifest, role, g); // format, role, bundle, threshold, kind, score, shapes, names
    graphs[role] = g;
    bytesOf[role] = bytes;
  }
  checkPartners(manifest, graphs);
  // Every graph is verified: only now is any of them handed to onnxruntime.
  const sessions = {};
  for (const [role, info] of Object.entries(manifest.graphs)) {
    onStep(`creating the ${role} session`);
    try {
      // logSeverityLevel 3 (errors only): onnxruntime warns at load about an input that has an initializer
      // default, which a decision scorer's optional threshold input is by design (docs/bundle-format.md)
      const opts = { logSeverityLevel: 3, ...(host.sessionOptions || {}), ...(sessionOptions || {}) };
      sessions[role] = await ort.InferenceSession.create(bytesOf[role], opts);
    } catch (e) {
      throw new AeBundleError('INTEGRITY', `${host.runtime} cannot load ${info.file}: ${e.message}`);
    }
    for (const [which, names] of [['inputs', sessions[role].inputNames], ['outputs', sessions[role].outputNames]]) {
      if (JSON.stringify(names) !== JSON.stringify(info[which])) {
        throw new AeBundleError('METADATA', `${info.file} has ${which} ${JSON.stringify(names)}, but the manifest lists ${JSON.stringify(info[which])}; re-export the bundle.`);
      }
    }
  }
  let thr;
  if (threshold !== undefined) thr = checkThreshold(threshold);
  else {
    thr = Number(manifest.threshold.value);
    if (typeof manifest.threshold.value !== 'number' || !Number.isFinite(thr)) {
      throw new AeBundleError('MANIFEST', `manifest.threshold.value must be a finite number, got ${JSON.stringify(manifest.threshold.value)}; re-export the bundle.`);
    }
  }
  return new Bundle(ort, host, manifest, graphs, sessions, thr, verify, calibrationScores(manifest, bytesOf.scorer));
}
