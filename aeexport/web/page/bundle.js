/**
 * Load an aeexport bundle over HTTP in a browser with onnxruntime-web: the browser port of
 * examples/node/aebundle.js (same checks, same messages where they apply).
 *
 *   import * as ort from './ort/ort.wasm.bundle.min.mjs';
 *   const bundle = await loadBundle(ort, new URL('bundle/', location.href));  // sha256 (WebCrypto), metadata, partners
 *   await bundle.checkGolden();                      // golden vectors within the manifest's tolerance
 *   const scores = await bundle.score(rows, n);      // Float32Array, higher = more anomalous
 *   const labels = bundle.label(scores);             // Uint8Array, 1 = anomaly (score > threshold)
 *
 * Every graph is fetched, hashed with crypto.subtle.digest('SHA-256') and compared with
 * manifest.files (and its graph with manifest.graphs[role].graph_sha256) before any
 * InferenceSession is created: a modified bundle is refused, never run.
 * The format is described in docs/bundle-format.md of the aeexport repository.
 */

import { readModel, readTensor, toNumbers } from './onnx.js';

/** Bundle format versions this reader understands. A newer one is refused. */
export const SUPPORTED_FORMAT_VERSIONS = [1];
const META = 'aeexport.';
const REQUIRED = {
  format_version: 'number', bundle_id: 'string', model: 'object', input: 'object', latent: 'object',
  graphs: 'object', score: 'object', threshold: 'object', files: 'object',
};
const DEFAULT_TOLERANCE = { atol: 1e-5, rtol: 1e-4 };

/** Every failure the page reports on purpose; `code` as in examples/node/lib/errors.js. */
export class AeBundleError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'AeBundleError';
    this.code = code;
  }
}

export const prod = (shape) => shape.reduce((a, b) => a * b, 1);

/** Lowercase hex sha256 of bytes, with WebCrypto. */
export async function sha256(bytes) {
  if (!globalThis.crypto || !globalThis.crypto.subtle) {
    throw new AeBundleError('INTEGRITY', 'WebCrypto (crypto.subtle) is not available, so the bundle cannot be verified: '
      + 'browsers offer it only in a secure context. Open the page over https://, or from http://localhost or http://127.0.0.1.');
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Fetch a URL as bytes; a clear error for a missing file or a blocked (CORS) request. */
async function fetchBytes(url, what) {
  let res;
  try {
    res = await fetch(url, { cache: 'no-cache' });
  } catch (e) {
    throw new AeBundleError('NOT_FOUND', `cannot fetch ${what} from ${url} (${e.message}): the server is unreachable, or it refused `
      + 'a cross-origin request (serve the bundle from the same origin as the page, or send Access-Control-Allow-Origin).');
  }
  if (!res.ok) {
    throw new AeBundleError('NOT_FOUND', `${what} ${url} answered HTTP ${res.status} ${res.statusText}; copy the complete bundle directory next to the page (aeexport web BUNDLE --out SITE does).`);
  }
  return new Uint8Array(await res.arrayBuffer());
}

function checkManifest(m, where) {
  if (m === null || typeof m !== 'object' || Array.isArray(m)) {
    throw new AeBundleError('MANIFEST', `${where} must hold a JSON object; re-export the bundle.`);
  }
  if (!Number.isInteger(m.format_version) || !SUPPORTED_FORMAT_VERSIONS.includes(m.format_version)) {
    throw new AeBundleError('UNSUPPORTED_FORMAT', `${where} has format_version ${JSON.stringify(m.format_version)}, but this page supports format versions ${JSON.stringify(SUPPORTED_FORMAT_VERSIONS)}. Rebuild the site with a matching aeexport.`);
  }
  for (const [key, type] of Object.entries(REQUIRED)) {
    if (typeof m[key] !== type || m[key] === null) {
      throw new AeBundleError('MANIFEST', `${where}: field ${JSON.stringify(key)} must be a${type === 'object' ? 'n object' : ` ${type}`}, got ${m[key] === null ? 'null' : typeof m[key]}; the manifest is damaged, re-export the bundle.`);
    }
  }
  for (const role of ['encoder', 'decoder']) {
    if (!m.graphs[role]) throw new AeBundleError('MANIFEST', `manifest.graphs has no ${role}; every bundle has an encoder and a decoder. Re-export the bundle.`);
  }
  return m;
}

/** A manifest-relative path that stays inside the bundle (no absolute paths, no ..). */
function safeRel(rel) {
  const parts = String(rel).split('/');
  if (rel === '' || rel.startsWith('/') || rel.includes('\\') || parts.some((p) => p === '..' || p === '' || p === '.') || /^[a-z]+:/i.test(rel)) {
    throw new AeBundleError('INTEGRITY', `manifest lists ${JSON.stringify(rel)}, which points outside the bundle directory; refusing to read it.`);
  }
  return parts.map(encodeURIComponent).join('/');
}

function integrityError(rel, actual, expected) {
  return new AeBundleError('INTEGRITY', `${rel} has sha256 ${actual.slice(0, 16)}…, but the manifest records ${String(expected).slice(0, 16)}…: the file was modified or corrupted after export. Re-export or re-copy the bundle.`);
}

function parseJsonMeta(meta, key, file) {
  const v = meta[META + key];
  if (v === undefined) {
    throw new AeBundleError('METADATA', `${file} has no metadata key ${META}${key}; it was not written by aeexport, or was stripped. Re-export the bundle.`);
  }
  try {
    return JSON.parse(v);
  } catch {
    throw new AeBundleError('METADATA', `${file}: metadata ${META}${key} is not valid JSON; re-export the bundle.`);
  }
}

/**
 * Compare actual with expected values: |a - e| <= atol + rtol * |e| element-wise (numpy's isclose).
 * @returns {{maxAbs: number, maxRel: number, ok: boolean, worst: number}}
 */
export function compare(actual, expected, tol) {
  let maxAbs = 0;
  let maxRel = 0;
  let ok = actual.length === expected.length;
  let worst = -1;
  let worstExcess = -Infinity;
  for (let i = 0; i < Math.min(actual.length, expected.length); i++) {
    const a = actual[i];
    const e = expected[i];
    const d = Math.abs(a - e);
    if (!Number.isFinite(a) || !(d <= tol.atol + tol.rtol * Math.abs(e))) ok = false;
    const excess = Number.isFinite(d) ? d - (tol.atol + tol.rtol * Math.abs(e)) : Infinity;
    if (excess > worstExcess) { worstExcess = excess; worst = i; }
    if (d > maxAbs || Number.isNaN(d)) maxAbs = Number.isNaN(d) ? Infinity : d;
    if (Math.abs(e) > tol.atol) maxRel = Math.max(maxRel, d / Math.abs(e));
  }
  return { maxAbs, maxRel, ok, worst };
}

/** Element errors of a scaled residual, by the manifest's score.element_error (aeruntime.format.scores). */
const ELEMENT_ERRORS = {
  squared: (r) => Math.fround(r * r),
  absolute: (r) => Math.abs(r),
};
const SCORE_ELEMENT_ERRORS = { mse: 'squared', mae: 'absolute' };

export class Bundle {
  /** Use {@link loadBundle}. */
  constructor(ort, base, manifest, graphs, sessions) {
    this.ort = ort;
    this.base = base;
    this.manifest = manifest;
    this.graphs = graphs;
    this.sessions = sessions;
    this.inputShape = manifest.input.shape.map(Number);
    this.latentShape = manifest.latent.shape.map(Number);
    this.width = prod(this.inputShape);
    this.kind = manifest.model.kind;
    this.threshold = Number(manifest.threshold.value);
    this._queue = Promise.resolve();
  }

  get bundleId() { return this.manifest.bundle_id; }

  /** Names of the input features (manifest.input.feature_names), or null. */
  get featureNames() {
    const names = this.manifest.input.feature_names;
    return Array.isArray(names) ? names.map(String) : null;
  }

  /** One session run at a time (onnxruntime-web's wasm backend does not run a session concurrently). */
  _run(role, inputs) {
    const task = this._queue.then(async () => {
      const info = this.manifest.graphs[role];
      const feeds = {};
      info.inputs.forEach((name, i) => { feeds[name] = inputs[i]; });
      const out = await this.sessions[role].run(feeds);
      return info.outputs.map((name) => out[name]);
    });
    this._queue = task.catch(() => {});
    return task;
  }

  _tensor(data, n, shape) {
    return new this.ort.Tensor('float32', data, [n, ...shape]);
  }

  _check(x, n) {
    if (!(x instanceof Float32Array) || x.length !== n * this.width || n < 1) {
      throw new AeBundleError('INVALID_INPUT', `expected ${n} row(s) of ${this.width} float32 values (shape ${JSON.stringify(this.inputShape)}), got ${x && x.length} values.`);
    }
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i])) {
        throw new AeBundleError('INVALID_INPUT', `row ${Math.floor(i / this.width) + 1}, column ${(i % this.width) + 1} is not a finite number (${x[i]}); replace NaN/Inf before scoring.`);
      }
    }
  }

  /** Latent codes (VAE: the posterior mean, the encoder's first output) of n raw rows. */
  async encode(x, n) {
    this._check(x, n);
    return (await this._run('encoder', [this._tensor(x, n, this.inputShape)]))[0].data;
  }

  /** decode(encode(x)): reconstructions in raw feature units, n * width float32 values. */
  async reconstruct(x, n) {
    const z = await this.encode(x, n);
    return (await this._run('decoder', [this._tensor(z, n, this.latentShape)]))[0].data;
  }

  /**
   * Anomaly score of each of n rows: higher = more anomalous. One scorer.onnx call per batch.
   * @param {Float32Array} x n * width raw values, row-major
   * @returns {Promise<Float32Array>}
   */
  async score(x, n, { batchSize = 4096 } = {}) {
    this._check(x, n);
    const scores = new Float32Array(n);
    for (let start = 0; start < n; start += batchSize) {
      const b = Math.min(batchSize, n - start);
      scores.set(await this._scoreBatch(x.subarray(start * this.width, (start + b) * this.width), b), start);
    }
    return scores;
  }

  async _scoreBatch(chunk, b) {
    if (this.sessions.scorer) return (await this._run('scorer', [this._tensor(chunk, b, this.inputShape)]))[0].data;
    // Bundles without scorer.onnx: the mean of the element errors (mse, mae), composed here.
    const err = await this.featureErrors(chunk, b);
    const out = new Float32Array(b);
    for (let r = 0; r < b; r++) {
      let s = 0;
      for (let j = 0; j < this.width; j++) s += err[r * this.width + j];
      out[r] = s / this.width;
    }
    return out;
  }

  /** Labels of scores: 1 = anomaly (score > threshold), 0 = normal. */
  label(scores) {
    return Uint8Array.from(scores, (s) => (s > this.threshold ? 1 : 0));
  }

  /**
   * Element errors of each row under the bundle's score (aeruntime.explain.feature_errors):
   * ((x - x_hat) / scale)^2 for mse, |x - x_hat| / scale for mae, in float32; their row mean is the score.
   * @returns {Promise<Float32Array>} n * width values
   */
  async featureErrors(x, n, xhat = null) {
    const section = this.manifest.score;
    const element = SCORE_ELEMENT_ERRORS[section.name] || section.element_error;
    const fn = ELEMENT_ERRORS[element];
    if (!fn) {
      throw new AeBundleError('METADATA', `this bundle's score ${JSON.stringify(section.name)} has no per-feature decomposition; feature errors and explanations support the scores mse and mae.`);
    }
    if (xhat === null) xhat = await this.reconstruct(x, n);
    const scale = this.manifest.scaler.scale.map((v) => Math.fround(Number(v)));
    const out = new Float32Array(n * this.width);
    for (let i = 0; i < out.length; i++) {
      const residual = Math.fround(Math.fround(x[i] - xhat[i]) / scale[i % this.width % scale.length]);
      out[i] = fn(residual);
    }
    return out;
  }

  /**
   * The topK features contributing most to each row's score: aeruntime's Model.explain, ported.
   * Element errors as featureErrors; per row the indices sorted by error, largest first, ties
   * keeping the lower index first (numpy's stable argsort of -err); share = error / row total
   * (0 when the total is 0); score = mean of the row's element errors.
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

  async explain(x, n, topK = 3, featureNames = this.featureNames) {
    return this.explainErrors(await this.featureErrors(x, n), n, topK, featureNames);
  }

  /**
   * Run every golden vector set (test_data/<graph>/test_data_set_N, the files listed in the
   * manifest) through its graph and compare with the stored outputs within the tolerance.
   * @returns {Promise<object[]>} one row per output: role, set, output, batch, maxAbs, maxRel, ok
   * @throws {AeBundleError} GOLDEN on the first violation
   */
  async checkGolden() {
    const golden = this.manifest.golden || {};
    const files = Object.keys(this.manifest.files);
    const rows = [];
    for (const role of Object.keys(this.manifest.graphs)) {
      const tol = { ...DEFAULT_TOLERANCE, ...(golden.tolerance || {}), ...((golden.tolerances || {})[role] || {}) };
      const prefix = `test_data/${role}/`;
      const sets = Array.isArray(golden.sets && golden.sets[role]) ? golden.sets[role].map(String)
        : [...new Set(files.filter((f) => f.startsWith(prefix)).map((f) => f.split('/')[2]))]
          .filter((s) => /^test_data_set_\d+$/.test(s)).sort((a, b) => Number(a.split('_').pop()) - Number(b.split('_').pop()));
      if (sets.length === 0) {
        throw new AeBundleError('GOLDEN', `no golden vectors for the ${role} graph (expected test_data/${role}/test_data_set_N/ in manifest.files); re-export the bundle with a current aeexport.`);
      }
      const session = this.sessions[role];
      for (const set of sets) {
        const base = `test_data/${role}/${set}`;
        const numbered = (kind) => files.filter((f) => new RegExp(`^${base}/${kind}_\\d+\\.pb$`).test(f))
          .sort((a, b) => Number(a.match(/_(\d+)\.pb$/)[1]) - Number(b.match(/_(\d+)\.pb$/)[1]));
        const feeds = {};
        const inNames = session.inputNames;
        const inputs = numbered('input');
        for (let i = 0; i < inputs.length; i++) {
          const t = await this._goldenTensor(inputs[i]);
          feeds[t.name || inNames[i]] = new this.ort.Tensor(t.type, t.data, t.dims);
        }
        const missing = inNames.filter((name) => !(name in feeds));
        if (missing.length) {
          throw new AeBundleError('GOLDEN', `${base} has no input for ${role} input(s) ${JSON.stringify(missing)} (tensor names must equal graph input names); re-export the bundle.`);
        }
        const out = await this._runFeeds(role, feeds);
        const batch = feeds[inNames[0]].dims[0];
        const outputs = numbered('output');
        if (outputs.length === 0) throw new AeBundleError('GOLDEN', `${base} holds no output_0.pb; re-export the bundle.`);
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
          const c = compare(gotN, expN, tol);
          rows.push({ role, set, output: name, batch: Number(batch), maxAbs: c.maxAbs, maxRel: c.maxRel, ok: c.ok && shapeOk });
          if (!shapeOk) {
            throw new AeBundleError('GOLDEN', `golden vector ${rel}: the ${role} output ${JSON.stringify(name)} has shape [${got.dims}], but the stored expected output has [${exp.dims}]. Re-export the bundle.`);
          }
          if (!c.ok) {
            throw new AeBundleError('GOLDEN', `golden vector ${rel} fails: the ${role} output ${JSON.stringify(name)} differs from the stored expected values beyond the tolerance (atol ${tol.atol}, rtol ${tol.rtol}): max abs diff ${c.maxAbs.toExponential(3)}, max rel diff ${c.maxRel.toExponential(3)}; worst at element ${c.worst}: got ${gotN[c.worst]}, expected ${expN[c.worst]}. The graph or the golden vector was modified, or onnxruntime-web computes differently.`);
          }
        }
      }
    }
    return rows;
  }

  _runFeeds(role, feeds) {
    const task = this._queue.then(() => this.sessions[role].run(feeds));
    this._queue = task.catch(() => {});
    return task;
  }

  async _goldenTensor(rel) {
    const bytes = await fetchVerified(this.base, this.manifest, rel, 'golden vector');
    try {
      return readTensor(bytes);
    } catch (e) {
      throw new AeBundleError('GOLDEN', `golden vector ${rel} is not a readable TensorProto (${e.message}); re-export the bundle.`);
    }
  }

  /** Golden input rows of the scorer (or encoder): a few real rows to try the model on. */
  async goldenRows() {
    const role = this.manifest.graphs.scorer ? 'scorer' : 'encoder';
    if (!Object.keys(this.manifest.files).some((f) => f.startsWith(`test_data/${role}/`))) {
      throw new AeBundleError('GOLDEN', 'this bundle has no golden vectors (a slim bundle without test_data/), so there are no example rows; drop a CSV instead.');
    }
    const rels = Object.keys(this.manifest.files).filter((f) => f.startsWith(`test_data/${role}/`) && f.endsWith('/input_0.pb'));
    const rows = [];
    for (const rel of rels.sort()) {
      const t = await this._goldenTensor(rel);
      const data = Float32Array.from(toNumbers(t.type, t.data));
      for (let r = 0; r < t.dims[0]; r++) rows.push(data.subarray(r * this.width, (r + 1) * this.width));
    }
    return rows;
  }
}

/** Fetch a bundle file listed in manifest.files and check its sha256 (WebCrypto) against the record. */
async function fetchVerified(base, manifest, rel, what = 'bundle file') {
  const expected = manifest.files[rel];
  if (expected === undefined) {
    throw new AeBundleError('INTEGRITY', `${rel} is not listed in manifest.files, so its integrity cannot be checked; re-export the bundle.`);
  }
  const bytes = await fetchBytes(new URL(safeRel(rel), base), what);
  const actual = await sha256(bytes);
  if (actual !== expected) throw integrityError(rel, actual, expected);
  return bytes;
}

/**
 * Open a bundle served at `base` (a directory URL ending in /): fetch and check manifest.json,
 * fetch every graph, check its sha256 against manifest.files and its graph's sha256 against
 * the manifest and its own metadata (role, bundle_id, partners), and only then create one
 * onnxruntime-web session per graph.
 *
 * @param ort the onnxruntime-web module
 * @param {URL|string} base bundle directory URL
 * @param {{onStep?: (text: string) => void, sessionOptions?: object}} [opts]
 * @returns {Promise<Bundle>}
 */
export async function loadBundle(ort, base, { onStep = () => {}, sessionOptions } = {}) {
  base = new URL(base, globalThis.location ? globalThis.location.href : undefined);
  if (!base.pathname.endsWith('/')) base = new URL(base.pathname + '/', base);
  onStep('reading manifest.json');
  const manifestUrl = new URL('manifest.json', base);
  const text = new TextDecoder().decode(await fetchBytes(manifestUrl, 'manifest.json'));
  let manifest;
  try {
    manifest = JSON.parse(text);
  } catch (e) {
    throw new AeBundleError('MANIFEST', `${manifestUrl} is not valid JSON (${e.message}); re-export the bundle.`);
  }
  checkManifest(manifest, 'manifest.json');
  const roles = Object.keys(manifest.graphs);
  const graphs = {};
  const bytesOf = {};
  for (const role of roles) {
    const info = manifest.graphs[role];
    const rel = info.file;
    onStep(`verifying ${rel} (sha256)`);
    const bytes = await fetchVerified(base, manifest, rel, `the ${role} graph`);
    let model;
    try {
      model = readModel(bytes);
    } catch (e) {
      throw new AeBundleError('INTEGRITY', `${rel} is not a readable ONNX model (${e.message}); the file is damaged. Re-copy or re-export the bundle.`);
    }
    const meta = model.metadata;
    const graphSha256 = await sha256(model.graphBytes);
    const g = {
      role: meta[META + 'role'],
      bundleId: meta[META + 'bundle_id'],
      formatVersion: Number(meta[META + 'format_version']),
      graphSha256,
      partners: parseJsonMeta(meta, 'partners', rel),
      metadata: meta,
    };
    if (g.role === undefined) {
      throw new AeBundleError('METADATA', `${rel} has no ${META}role metadata; it is not an aeexport graph.`);
    }
    if (!SUPPORTED_FORMAT_VERSIONS.includes(g.formatVersion)) {
      throw new AeBundleError('UNSUPPORTED_FORMAT', `${rel} has ${META}format_version ${JSON.stringify(meta[META + 'format_version'])}, but this page supports ${JSON.stringify(SUPPORTED_FORMAT_VERSIONS)}.`);
    }
    if (g.role !== role) {
      throw new AeBundleError('METADATA', `${rel} says it is the ${JSON.stringify(g.role)} graph (${META}role), but the manifest lists it as the ${role}; the files were renamed or swapped. Re-copy the bundle.`);
    }
    if (g.bundleId !== manifest.bundle_id) {
      throw new AeBundleError('MIXED_BUNDLE', `${rel} belongs to bundle ${JSON.stringify(g.bundleId)}, but manifest.json describes bundle ${JSON.stringify(manifest.bundle_id)}: graphs from different exports were mixed. Copy all files of one bundle together, or re-export.`);
    }
    if (graphSha256 !== meta[META + 'graph_sha256'] || graphSha256 !== info.graph_sha256) {
      throw new AeBundleError('INTEGRITY', `${rel}: the sha256 of its graph is ${graphSha256.slice(0, 16)}…, but its metadata records ${String(meta[META + 'graph_sha256']).slice(0, 16)}… and the manifest ${String(info.graph_sha256).slice(0, 16)}…: the graph was modified after export. Re-export or re-copy the bundle.`);
    }
    graphs[role] = g;
    bytesOf[role] = bytes;
  }
  for (const [role, g] of Object.entries(graphs)) {
    for (const [prole, p] of Object.entries(g.partners)) {
      const other = graphs[prole];
      if (!other) continue; // optional partner (e.g. scorer) absent from this bundle
      if (p.graph_sha256 !== other.graphSha256 || p.file !== manifest.graphs[prole].file) {
        throw new AeBundleError('MIXED_BUNDLE', `${manifest.graphs[role].file} expects its ${prole} partner ${p.file} with graph_sha256 ${String(p.graph_sha256).slice(0, 16)}…, but ${manifest.graphs[prole].file} has ${other.graphSha256.slice(0, 16)}…: graphs from different exports were mixed. Re-copy the bundle.`);
      }
    }
  }
  // Every graph is verified: only now is any of them handed to onnxruntime-web.
  const sessions = {};
  for (const role of roles) {
    const rel = manifest.graphs[role].file;
    onStep(`creating the ${role} session`);
    try {
      sessions[role] = await ort.InferenceSession.create(bytesOf[role], { executionProviders: ['wasm'], ...(sessionOptions || {}) });
    } catch (e) {
      throw new AeBundleError('INTEGRITY', `onnxruntime-web cannot load ${rel}: ${e.message}`);
    }
    const s = sessions[role];
    for (const [which, names] of [['inputs', s.inputNames], ['outputs', s.outputNames]]) {
      if (JSON.stringify(names) !== JSON.stringify(manifest.graphs[role][which])) {
        throw new AeBundleError('METADATA', `${rel} has ${which} ${JSON.stringify(names)}, but the manifest lists ${JSON.stringify(manifest.graphs[role][which])}; re-export the bundle.`);
      }
    }
  }
  const thr = Number(manifest.threshold.value);
  if (!Number.isFinite(thr)) {
    throw new AeBundleError('MANIFEST', `manifest.threshold.value must be a finite number, got ${JSON.stringify(manifest.threshold.value)}; re-export the bundle.`);
  }
  return new Bundle(ort, base, manifest, graphs, sessions);
}
