'use strict';
/**
 * Load an aeexport bundle in Node.js with onnxruntime-node.
 *
 *   const { loadBundle } = require('./aebundle');
 *   const bundle = await loadBundle('models/digits-dense');   // hashes, metadata, partners checked
 *   await bundle.checkGolden();                                 // golden vectors within tolerance
 *   const scores = await bundle.score(rows);                    // Float32Array, higher = more anomalous
 *   const labels = bundle.label(scores);                        // Uint8Array, 1 = anomaly (score > threshold)
 *
 * The format is described in docs/bundle-format.md of the aeexport repository.
 */

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');
const { AeBundleError } = require('./lib/errors');
const { readModel, readTensor, toNumbers } = require('./lib/onnx');

/** Bundle format versions this reader understands. A newer one is refused. */
const SUPPORTED_FORMAT_VERSIONS = [1];
const META = 'aeexport.';
const REQUIRED = {
  format_version: 'number', bundle_id: 'string', model: 'object', input: 'object', latent: 'object',
  graphs: 'object', score: 'object', threshold: 'object', files: 'object',
};
const DEFAULT_TOLERANCE = { atol: 1e-5, rtol: 1e-4 };

const sha256 = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');
const prod = (shape) => shape.reduce((a, b) => a * b, 1);

function sha256File(file) {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const chunk = Buffer.alloc(1 << 20);
    let n;
    while ((n = fs.readSync(fd, chunk, 0, chunk.length, null)) > 0) h.update(chunk.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

function parseJsonMeta(meta, key, file) {
  const v = meta[META + key];
  if (v === undefined) {
    throw new AeBundleError('METADATA', `${file} has no metadata key ${META}${key}; it was not written by aeexport, or was stripped. Re-export the bundle.`);
  }
  try {
    return JSON.parse(v);
  } catch {
    throw new AeBundleError('METADATA', `${file}: metadata ${META}${key} is not valid JSON (${JSON.stringify(v.slice(0, 60))}); re-export the bundle.`);
  }
}

/**
 * Read what a single .onnx file says about itself: no manifest needed.
 * @param {string|Uint8Array} fileOrBytes path to a .onnx file, or its bytes
 * @returns {{role: string, bundleId: string, formatVersion: number, modelKind: string,
 *   graphSha256: string, graphSha256Ok: boolean, partners: Object<string, {file: string, graph_sha256: string}>,
 *   inputs: object[], outputs: object[], metadata: Object<string,string>, producer: string, opsets: object[]}}
 */
function readGraphMetadata(fileOrBytes) {
  const label = typeof fileOrBytes === 'string' ? path.basename(fileOrBytes) : 'graph';
  const bytes = typeof fileOrBytes === 'string' ? fs.readFileSync(fileOrBytes) : fileOrBytes;
  let model;
  try {
    model = readModel(bytes);
  } catch (e) {
    throw new AeBundleError('INTEGRITY', `${label} is not a readable ONNX model (${e.message}); the file is damaged. Re-copy or re-export the bundle.`);
  }
  const meta = model.metadata;
  const role = meta[META + 'role'];
  if (role === undefined) {
    throw new AeBundleError('METADATA', `${label} has no ${META}role metadata; it is not an aeexport graph. Pass encoder.onnx, decoder.onnx or scorer.onnx of a bundle.`);
  }
  const graphSha256 = sha256(model.graphBytes);
  return {
    role,
    bundleId: meta[META + 'bundle_id'],
    formatVersion: Number(meta[META + 'format_version']),
    modelKind: meta[META + 'model_kind'],
    graphSha256,
    graphSha256Ok: graphSha256 === meta[META + 'graph_sha256'],
    partners: parseJsonMeta(meta, 'partners', label),
    inputs: parseJsonMeta(meta, 'inputs', label),
    outputs: parseJsonMeta(meta, 'outputs', label),
    metadata: meta,
    producer: `${model.producerName} ${model.producerVersion}`.trim(),
    opsets: model.opsets,
    bytes,
  };
}

/**
 * Read and check `manifest.json` of a bundle directory.
 * @throws {AeBundleError} NOT_FOUND, MANIFEST, UNSUPPORTED_FORMAT
 */
function readManifest(dir) {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new AeBundleError('NOT_FOUND', `bundle directory ${JSON.stringify(dir)} does not exist or is not a directory; expected a directory written by \`aeexport export\` (with manifest.json, encoder.onnx, ...).`);
  }
  const file = path.join(dir, 'manifest.json');
  if (!fs.existsSync(file)) {
    throw new AeBundleError('NOT_FOUND', `${JSON.stringify(file)} is missing; a bundle directory must contain manifest.json. Point to the directory written by \`aeexport export\`.`);
  }
  let m;
  try {
    m = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new AeBundleError('MANIFEST', `${file} is not valid JSON (${e.message}); re-export the bundle.`);
  }
  if (m === null || typeof m !== 'object' || Array.isArray(m)) {
    throw new AeBundleError('MANIFEST', `${file} must hold a JSON object; re-export the bundle.`);
  }
  if (!Number.isInteger(m.format_version) || !SUPPORTED_FORMAT_VERSIONS.includes(m.format_version)) {
    throw new AeBundleError('UNSUPPORTED_FORMAT', `bundle ${JSON.stringify(dir)} has format_version ${JSON.stringify(m.format_version)}, but this reader supports format versions ${JSON.stringify(SUPPORTED_FORMAT_VERSIONS)}. Update the consumer, or re-export the bundle with a matching aeexport.`);
  }
  for (const [key, type] of Object.entries(REQUIRED)) {
    if (typeof m[key] !== type || m[key] === null) {
      throw new AeBundleError('MANIFEST', `${file}: field ${JSON.stringify(key)} must be a${type === 'object' ? 'n object' : ` ${type}`}, got ${m[key] === null ? 'null' : typeof m[key]}; the manifest is damaged, re-export the bundle.`);
    }
  }
  return m;
}

/** Resolve a manifest-relative path, refusing anything outside the bundle. */
function bundlePath(root, rel) {
  const abs = path.resolve(root, rel);
  if (!abs.startsWith(path.resolve(root) + path.sep)) {
    throw new AeBundleError('INTEGRITY', `manifest lists ${JSON.stringify(rel)}, which points outside the bundle directory; refusing to read it.`);
  }
  return abs;
}

function integrityError(rel, actual, expected) {
  return new AeBundleError('INTEGRITY', `${rel} has sha256 ${actual.slice(0, 16)}…, but the manifest records ${String(expected).slice(0, 16)}…: the file was modified or corrupted after export. Re-export or re-copy the bundle.`);
}

/**
 * Check the sha256 of every file listed in `manifest.files`.
 * @throws {AeBundleError} NOT_FOUND, INTEGRITY
 */
function verifyFiles(dir, manifest) {
  for (const [rel, expected] of Object.entries(manifest.files)) {
    const abs = bundlePath(dir, rel);
    if (!fs.existsSync(abs)) {
      throw new AeBundleError('NOT_FOUND', `bundle file ${JSON.stringify(path.join(dir, rel))} listed in the manifest is missing; copy the complete bundle directory or re-export it.`);
    }
    const actual = sha256File(abs);
    if (actual !== expected) throw integrityError(rel, actual, expected);
  }
}

/**
 * Normalize rows to a float32 batch of shape (n, ...rowShape).
 * @param {Float32Array|Float64Array|number[]|number[][]|{data: ArrayLike<number>, shape: number[]}} x
 * @returns {{data: Float32Array, n: number}}
 */
function toBatch(x, rowShape, what = 'x') {
  const width = prod(rowShape);
  let flat;
  let n;
  if (x && x.data !== undefined && Array.isArray(x.shape)) {
    flat = x.data;
    n = x.shape.length ? x.shape[0] : 0;
    const per = prod(x.shape.slice(1));
    if (x.shape.length < 2 || per !== width) {
      throw new AeBundleError('INVALID_INPUT', `${what} has shape (${x.shape.join(', ')}), but the model expects (n_rows, ${rowShape.join(', ')}) or (n_rows, ${width}) flattened. Reshape the rows.`);
    }
  } else if (Array.isArray(x) && Array.isArray(x[0])) {
    n = x.length;
    flat = new Float32Array(n * width);
    x.forEach((row, i) => {
      const r = row.flat(Infinity);
      if (r.length !== width) {
        throw new AeBundleError('INVALID_INPUT', `${what} row ${i} has ${r.length} values, but the model expects ${width} (shape ${JSON.stringify(rowShape)}).`);
      }
      flat.set(r, i * width);
    });
  } else if (x && typeof x.length === 'number') {
    if (x.length % width !== 0) {
      throw new AeBundleError('INVALID_INPUT', `${what} holds ${x.length} values, which is not a whole number of rows of ${width} (shape ${JSON.stringify(rowShape)}).`);
    }
    flat = x;
    n = x.length / width;
  } else {
    throw new AeBundleError('INVALID_INPUT', `${what} must be a typed array, an array of rows or {data, shape}; got ${typeof x}.`);
  }
  if (n === 0) {
    throw new AeBundleError('INVALID_INPUT', `${what} has no rows; expected at least one row of shape ${JSON.stringify(rowShape)}.`);
  }
  const data = flat instanceof Float32Array ? flat : Float32Array.from(flat, Number);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      const row = Math.floor(i / width);
      throw new AeBundleError('INVALID_INPUT', `${what} holds a non-finite value (${flat[i]}) at row ${row}, column ${i % width} (after the cast to float32); replace NaN/Inf before scoring.`);
    }
  }
  return { data, n };
}

/**
 * Compare actual with expected values: |a - e| <= atol + rtol * |e| element-wise (numpy's isclose).
 * @returns {{maxAbs: number, maxRel: number, ok: boolean, worst: number}}
 */
function compare(actual, expected, tol) {
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

class Bundle {
  /** Use {@link loadBundle}. */
  constructor(dir, manifest, graphs, sessions, threshold, verify) {
    this.dir = dir;
    this.manifest = manifest;
    /** role -> what readGraphMetadata returned (without the bytes) */
    this.graphs = graphs;
    this.sessions = sessions;
    this.verify = verify;
    this.inputShape = manifest.input.shape.map(Number);
    this.latentShape = manifest.latent.shape.map(Number);
    this.kind = manifest.model.kind;
    this._threshold = threshold;
  }

  /** Score above which a row is labelled an anomaly (label 1). */
  get threshold() { return this._threshold; }

  set threshold(value) { this._threshold = checkThreshold(value); }

  /** The bundle_id shared by the manifest and every graph. */
  get bundleId() { return this.manifest.bundle_id; }

  _readVerified(rel) {
    const bytes = fs.readFileSync(bundlePath(this.dir, rel));
    if (this.verify) {
      const expected = this.manifest.files[rel];
      if (expected === undefined) {
        throw new AeBundleError('INTEGRITY', `${rel} is not listed in manifest.files, so its integrity cannot be checked; re-export the bundle.`);
      }
      const actual = sha256(bytes);
      if (actual !== expected) throw integrityError(rel, actual, expected);
    }
    return bytes;
  }

  async _run(role, inputs) {
    const info = this.manifest.graphs[role];
    const feeds = {};
    info.inputs.forEach((name, i) => { feeds[name] = inputs[i]; });
    const out = await this.sessions[role].run(feeds);
    return info.outputs.map((name) => out[name]);
  }

  /**
   * Latent codes of raw rows (VAE: the posterior mean `mu`).
   * @param x rows of shape (n, ...inputShape)
   * @returns {Promise<ort.Tensor>} shape (n, ...latentShape)
   */
  async encode(x) {
    const { data, n } = toBatch(x, this.inputShape);
    return (await this._run('encoder', [new ort.Tensor('float32', data, [n, ...this.inputShape])]))[0];
  }

  /** Every encoder output by name (VAE: `mu` and `logvar`). */
  async encodeAll(x) {
    const { data, n } = toBatch(x, this.inputShape);
    const outs = await this._run('encoder', [new ort.Tensor('float32', data, [n, ...this.inputShape])]);
    return Object.fromEntries(this.manifest.graphs.encoder.outputs.map((name, i) => [name, outs[i]]));
  }

  /**
   * Reconstructions, in raw feature units, of latent codes.
   * @param z codes of shape (n, ...latentShape)
   * @returns {Promise<ort.Tensor>} shape (n, ...inputShape)
   */
  async decode(z) {
    if (z instanceof ort.Tensor) z = { data: z.data, shape: z.dims };
    const { data, n } = toBatch(z, this.latentShape, 'z');
    return (await this._run('decoder', [new ort.Tensor('float32', data, [n, ...this.latentShape])]))[0];
  }

  /** decode(encode(x)): reconstructions in raw feature units, shape (n, ...inputShape). */
  async reconstruct(x) {
    return this.decode(await this.encode(x));
  }

  /**
   * Anomaly score of each row: higher = more anomalous. One scorer.onnx call per batch.
   * @param x rows of shape (n, ...inputShape): typed array, array of rows or {data, shape}
   * @param {{batchSize?: number}} [opts]
   * @returns {Promise<Float32Array>} shape (n,)
   */
  async score(x, { batchSize = 4096 } = {}) {
    const { data, n } = toBatch(x, this.inputShape);
    const width = prod(this.inputShape);
    const scores = new Float32Array(n);
    for (let start = 0; start < n; start += batchSize) {
      const b = Math.min(batchSize, n - start);
      const chunk = data.subarray(start * width, (start + b) * width);
      scores.set(await this._scoreBatch(chunk, b), start);
    }
    return scores;
  }

  async _scoreBatch(chunk, b) {
    const t = new ort.Tensor('float32', chunk, [b, ...this.inputShape]);
    if (this.sessions.scorer) return (await this._run('scorer', [t]))[0].data;
    // Bundles without scorer.onnx: the manifest's score, composed here.
    const name = this.manifest.score.name;
    if (name !== 'mse' && name !== 'mae') {
      throw new AeBundleError('METADATA', `this bundle has no scorer.onnx and its score ${JSON.stringify(name)} cannot be composed here (only mse and mae); re-export with the scorer graph.`);
    }
    const xhat = (await this.reconstruct({ data: chunk, shape: [b, ...this.inputShape] })).data;
    const scale = this.manifest.scaler.scale;
    const width = chunk.length / b;
    const out = new Float32Array(b);
    for (let r = 0; r < b; r++) {
      let s = 0;
      for (let j = 0; j < width; j++) {
        const e = (chunk[r * width + j] - xhat[r * width + j]) / scale[j % scale.length];
        s += name === 'mse' ? e * e : Math.abs(e);
      }
      out[r] = s / width;
    }
    return out;
  }

  /** Labels of scores: 1 = anomaly (score > threshold), 0 = normal. */
  label(scores) {
    return Uint8Array.from(scores, (s) => (s > this._threshold ? 1 : 0));
  }

  /** score(x) then label(): (n,) Uint8Array, 1 = anomaly. */
  async predict(x, opts) {
    return this.label(await this.score(x, opts));
  }

  /**
   * Run every golden vector set (test_data/<graph>/test_data_set_N) through its graph and
   * compare with the stored outputs within manifest.golden.tolerance.
   * @returns {Promise<object[]>} one row per output: role, set, output, batch, maxAbs, maxRel, ok
   * @throws {AeBundleError} GOLDEN on the first violation (after recording it), NOT_FOUND if none exist
   */
  async checkGolden() {
    const golden = this.manifest.golden || {};
    const rows = [];
    for (const role of Object.keys(this.manifest.graphs)) {
      // golden.tolerances[role] (the decoder's atol is scaled to raw feature units) refines golden.tolerance
      const tol = { ...DEFAULT_TOLERANCE, ...(golden.tolerance || {}), ...((golden.tolerances || {})[role] || {}) };
      const sets = goldenSets(this.dir, role, golden.sets && golden.sets[role]);
      if (sets.length === 0) {
        throw new AeBundleError('GOLDEN', `no golden vectors for the ${role} graph (expected test_data/${role}/test_data_set_N/); re-export the bundle with a current aeexport.`);
      }
      const session = this.sessions[role];
      for (const set of sets) {
        const base = `test_data/${role}/${set}`;
        const feeds = {};
        const inNames = session.inputNames;
        for (let i = 0; ; i++) {
          const rel = `${base}/input_${i}.pb`;
          if (!fs.existsSync(path.join(this.dir, rel))) break;
          const t = this._tensor(rel);
          feeds[t.name || inNames[i]] = new ort.Tensor(t.type, t.data, t.dims);
        }
        const missing = inNames.filter((n) => !(n in feeds));
        if (missing.length) {
          throw new AeBundleError('GOLDEN', `${base} has no input for ${role} input(s) ${JSON.stringify(missing)} (tensor names must equal graph input names); re-export the bundle.`);
        }
        const out = await session.run(feeds);
        const batch = feeds[inNames[0]].dims[0];
        let i = 0;
        for (; fs.existsSync(path.join(this.dir, `${base}/output_${i}.pb`)); i++) {
          const rel = `${base}/output_${i}.pb`;
          const exp = this._tensor(rel);
          const name = exp.name || session.outputNames[i];
          const got = out[name];
          if (!got) {
            throw new AeBundleError('GOLDEN', `${rel} names output ${JSON.stringify(name)}, which the ${role} graph does not have (outputs: ${JSON.stringify(session.outputNames)}).`);
          }
          const shapeOk = JSON.stringify(got.dims.map(Number)) === JSON.stringify(exp.dims);
          const c = compare(toNumbers(got.type, got.data), toNumbers(exp.type, exp.data), tol);
          const row = { role, set, output: name, batch, maxAbs: c.maxAbs, maxRel: c.maxRel, ok: c.ok && shapeOk };
          rows.push(row);
          if (!shapeOk) {
            throw new AeBundleError('GOLDEN', `golden vector ${rel}: the ${role} output ${JSON.stringify(name)} has shape [${got.dims}], but the stored expected output has [${exp.dims}]. The graph or the golden vector was modified; re-export the bundle.`);
          }
          if (!c.ok) {
            const w = c.worst;
            const e = toNumbers(exp.type, exp.data)[w];
            const a = toNumbers(got.type, got.data)[w];
            throw new AeBundleError('GOLDEN', `golden vector ${rel} fails: the ${role} output ${JSON.stringify(name)} differs from the stored expected values beyond the tolerance (atol ${tol.atol}, rtol ${tol.rtol}): max abs diff ${c.maxAbs.toExponential(3)}, max rel diff ${c.maxRel.toExponential(3)}; worst at element ${w}: got ${a}, expected ${e}. The graph or the golden vector was modified, or this runtime computes differently; re-export or re-copy the bundle.`);
          }
        }
        if (i === 0) throw new AeBundleError('GOLDEN', `${base} holds no output_0.pb; re-export the bundle.`);
      }
    }
    return rows;
  }

  _tensor(rel) {
    const bytes = this._readVerified(rel);
    try {
      return readTensor(bytes);
    } catch (e) {
      throw new AeBundleError('GOLDEN', `golden vector ${rel} is not a readable TensorProto (${e.message}); re-export the bundle.`);
    }
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
      graphs: Object.fromEntries(Object.entries(this.graphs).map(([role, g]) => [role, {
        file: m.graphs[role].file, role: g.role, graph_sha256: g.graphSha256, inputs: this.sessions[role].inputNames,
        outputs: this.sessions[role].outputNames, partners: Object.keys(g.partners),
      }])),
    };
  }
}

function goldenSets(dir, role, listed) {
  if (Array.isArray(listed)) return listed.map(String);
  const d = path.join(dir, 'test_data', role);
  if (!fs.existsSync(d)) return [];
  return fs.readdirSync(d).filter((s) => /^test_data_set_\d+$/.test(s))
    .sort((a, b) => Number(a.split('_').pop()) - Number(b.split('_').pop()));
}

function checkThreshold(value) {
  const t = Number(value);
  if (value === null || value === '' || !Number.isFinite(t)) {
    throw new AeBundleError('INVALID_INPUT', `threshold must be a finite number, got ${JSON.stringify(value)}; pass e.g. --threshold 0.5 (see manifest.threshold.stats for the score scale).`);
  }
  return t;
}

/**
 * Open a bundle directory: read and check the manifest, verify every file's sha256,
 * check each graph's metadata (role, bundle_id, graph_sha256, partners) and create
 * one onnxruntime-node session per graph from the verified bytes.
 *
 * @param {string} dir bundle directory
 * @param {{threshold?: number, verify?: boolean, sessionOptions?: object}} [opts]
 *   threshold overrides manifest.threshold.value; verify=false skips the sha256 of files
 *   (the metadata checks still run).
 * @returns {Promise<Bundle>}
 */
async function loadBundle(dir, { threshold, verify = true, sessionOptions } = {}) {
  const manifest = readManifest(dir);
  if (verify) verifyFiles(dir, manifest);
  const graphs = {};
  const sessions = {};
  const roles = Object.keys(manifest.graphs);
  for (const role of ['encoder', 'decoder']) {
    if (!roles.includes(role)) throw new AeBundleError('MANIFEST', `manifest.graphs has no ${role}; every bundle has an encoder and a decoder. Re-export the bundle.`);
  }
  const loader = { dir, manifest, verify };
  for (const role of roles) {
    const info = manifest.graphs[role];
    const rel = info.file;
    const bytes = Bundle.prototype._readVerified.call(loader, rel);
    const g = readGraphMetadata(bytes);
    const ver = g.formatVersion;
    if (!SUPPORTED_FORMAT_VERSIONS.includes(ver)) {
      throw new AeBundleError('UNSUPPORTED_FORMAT', `${rel} has ${META}format_version ${JSON.stringify(g.metadata[META + 'format_version'])}, but this reader supports ${JSON.stringify(SUPPORTED_FORMAT_VERSIONS)}; update the consumer or re-export.`);
    }
    if (g.role !== role) {
      throw new AeBundleError('METADATA', `${rel} says it is the ${JSON.stringify(g.role)} graph (${META}role), but the manifest lists it as the ${role}; the files were renamed or swapped. Re-copy the bundle.`);
    }
    if (g.bundleId !== manifest.bundle_id) {
      throw new AeBundleError('MIXED_BUNDLE', `${rel} belongs to bundle ${JSON.stringify(g.bundleId)}, but manifest.json describes bundle ${JSON.stringify(manifest.bundle_id)}: graphs from different exports were mixed. Copy all files of one bundle together, or re-export.`);
    }
    if (!g.graphSha256Ok || g.graphSha256 !== info.graph_sha256) {
      throw new AeBundleError('INTEGRITY', `${rel}: the sha256 of its graph is ${g.graphSha256.slice(0, 16)}…, but its metadata records ${String(g.metadata[META + 'graph_sha256']).slice(0, 16)}… and the manifest ${String(info.graph_sha256).slice(0, 16)}…: the graph was modified after export. Re-export or re-copy the bundle.`);
    }
    delete g.bytes;
    graphs[role] = g;
    try {
      sessions[role] = await ort.InferenceSession.create(bytes, sessionOptions || {});
    } catch (e) {
      throw new AeBundleError('INTEGRITY', `onnxruntime-node cannot load ${rel}: ${e.message}`);
    }
    const s = sessions[role];
    for (const [which, names] of [['inputs', s.inputNames], ['outputs', s.outputNames]]) {
      if (JSON.stringify(names) !== JSON.stringify(info[which])) {
        throw new AeBundleError('METADATA', `${rel} has ${which} ${JSON.stringify(names)}, but the manifest lists ${JSON.stringify(info[which])}; re-export the bundle.`);
      }
    }
  }
  // Partners: each graph names the others by file and graph_sha256.
  for (const [role, g] of Object.entries(graphs)) {
    for (const [prole, p] of Object.entries(g.partners)) {
      const other = graphs[prole];
      if (!other) continue; // optional partner (e.g. scorer) absent from this bundle
      if (p.graph_sha256 !== other.graphSha256 || p.file !== manifest.graphs[prole].file) {
        throw new AeBundleError('MIXED_BUNDLE', `${manifest.graphs[role].file} expects its ${prole} partner ${p.file} with graph_sha256 ${String(p.graph_sha256).slice(0, 16)}…, but ${manifest.graphs[prole].file} has ${other.graphSha256.slice(0, 16)}…: graphs from different exports were mixed. Re-copy the bundle.`);
      }
    }
  }
  const thr = checkThreshold(threshold === undefined ? manifest.threshold.value : threshold);
  return new Bundle(dir, manifest, graphs, sessions, thr, verify);
}

/**
 * Describe a single .onnx file from its metadata alone, and check the partner graphs
 * it names if they lie beside it.
 * @returns {Promise<object>} role, bundle_id, model_kind, graph_sha256 (+ok), partners (with found/match),
 *   and the inputs/outputs as onnxruntime-node reports them
 */
async function inspectGraph(file) {
  const g = readGraphMetadata(file);
  const session = await ort.InferenceSession.create(g.bytes);
  const partners = {};
  for (const [role, p] of Object.entries(g.partners)) {
    const f = path.join(path.dirname(file), p.file);
    let found = false;
    let match = false;
    if (fs.existsSync(f)) {
      found = true;
      const o = readGraphMetadata(f);
      match = o.graphSha256 === p.graph_sha256 && o.role === role && o.bundleId === g.bundleId;
    }
    partners[role] = { file: p.file, graph_sha256: p.graph_sha256, found, match };
  }
  return {
    file,
    role: g.role,
    bundle_id: g.bundleId,
    format_version: g.formatVersion,
    model_kind: g.modelKind,
    graph_sha256: g.graphSha256,
    graph_sha256_ok: g.graphSha256Ok,
    partners,
    inputs: session.inputMetadata.map((m) => ({ name: m.name, type: m.type, shape: m.shape })),
    outputs: session.outputMetadata.map((m) => ({ name: m.name, type: m.type, shape: m.shape })),
    metadata_inputs: g.inputs,
    metadata_outputs: g.outputs,
    producer: g.producer,
  };
}

module.exports = {
  loadBundle,
  readManifest,
  verifyFiles,
  readGraphMetadata,
  inspectGraph,
  toBatch,
  compare,
  Bundle,
  AeBundleError,
  SUPPORTED_FORMAT_VERSIONS,
};
