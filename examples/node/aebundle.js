/**
 * Load an aeexport bundle in Node.js with onnxruntime-node: Node's host adapter of the one
 * JavaScript core (aeexport/web/page/core/, shared with the browser page). Here are only the
 * Node parts: files by fs, sha256 by node:crypto, sessions by onnxruntime-node.
 *
 *   import { loadBundle } from './aebundle.js';
 *   const bundle = await loadBundle('models/digits-dense');   // hashes, metadata, partners checked
 *   await bundle.checkGolden();                                 // golden vectors within tolerance
 *   const scores = await bundle.score(rows);                    // Float32Array, higher = more anomalous
 *   const labels = bundle.label(scores);                        // Uint8Array, 1 = anomaly (score > threshold)
 *
 * The format is described in docs/bundle-format.md of the aeexport repository.
 */

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import {
  AeBundleError, checkStructure, loadBundle as loadWithHost, readGraph, safeRel,
} from '../../aeexport/web/page/core/bundle.js';
import { parseCsvBytes, parseNpy } from '../../aeexport/web/page/core/table.js';

export {
  AeBundleError, AlarmRule, Bundle, SUPPORTED_FORMAT_VERSIONS, SeriesScorer, compare, fprLabels, graphThreshold, scoreSeries, toBatch,
} from '../../aeexport/web/page/core/bundle.js';
export { checkRate } from '../../aeexport/web/page/core/decisions.js';

/** Lowercase hex sha256 of bytes. */
export const sha256 = async (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');

const { O_RDONLY, O_NOFOLLOW = 0, O_NONBLOCK = 0 } = fs.constants;

function kindOf(st) {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  return st.isFile() ? '' : 'not a regular file';
}

function notRegular(shown, kind) {
  return new AeBundleError('UNSAFE', `${shown} is ${kind}, not a regular file inside the bundle; a bundle's files are plain files (symbolic links, pipes and devices are never opened). Copy the bundle with cp -r, or re-export it.`);
}

/**
 * The bytes of a regular file `rel` under `root`, opened only after every path component was
 * checked with lstat (no symbolic link, FIFO or device is ever opened or followed); the open
 * itself refuses a link (O_NOFOLLOW) and never blocks (O_NONBLOCK), and fstat confirms the
 * opened file is the regular file that was checked.
 */
function readRegular(root, rel, shown) {
  let at = root;
  const parts = rel.split('/');
  for (let i = 0; i < parts.length; i++) {
    at = path.join(at, parts[i]);
    let st;
    try {
      st = fs.lstatSync(at);
    } catch (e) {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return null;
      throw new AeBundleError('NOT_FOUND', `cannot read ${shown}: ${e.message}.`);
    }
    const kind = i === parts.length - 1 ? kindOf(st) : (st.isDirectory() ? '' : kindOf(st));
    if (kind) throw notRegular(i === parts.length - 1 ? shown : JSON.stringify(at), kind);
  }
  const fd = fs.openSync(at, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  try {
    const kind = kindOf(fs.fstatSync(fd));
    if (kind) throw notRegular(shown, kind);
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The host of a bundle directory: only listed regular files, read from `dir`, never outside it. */
export function fsHost(dir) {
  const root = path.resolve(dir);
  const isDir = fs.existsSync(root) && fs.statSync(root).isDirectory();
  if (!isDir) {
    throw new AeBundleError('NOT_FOUND', `bundle directory ${JSON.stringify(dir)} does not exist or is not a directory; expected a directory written by \`aeexport export\` (with manifest.json, encoder.onnx, ...).`);
  }
  return {
    runtime: 'onnxruntime-node',
    where: dir,
    updateHint: 'Update the consumer, or re-export the bundle with a matching aeexport.',
    sessionOptions: {},
    async readManifest() {
      const file = path.join(dir, 'manifest.json');
      const bytes = readRegular(root, 'manifest.json', JSON.stringify(file));
      if (bytes === null) {
        throw new AeBundleError('NOT_FOUND', `${JSON.stringify(file)} is missing; a bundle directory must contain manifest.json. Point to the directory written by \`aeexport export\`.`);
      }
      return bytes;
    },
    async read(rel) {
      const abs = path.resolve(root, rel);
      if (!abs.startsWith(root + path.sep)) {
        throw new AeBundleError('INTEGRITY', `manifest lists ${JSON.stringify(rel)}, which points outside the bundle directory; refusing to read it.`);
      }
      const bytes = readRegular(root, rel, `bundle file ${JSON.stringify(path.join(dir, rel))}`);
      if (bytes === null) {
        throw new AeBundleError('NOT_FOUND', `bundle file ${JSON.stringify(path.join(dir, rel))} listed in the manifest is missing; copy the complete bundle directory or re-export it.`);
      }
      return bytes;
    },
    sha256,
  };
}

/**
 * Open a bundle directory: read and check the manifest, verify every listed file's sha256,
 * check each graph's metadata (role, bundle_id, graph_sha256, partners) and create one
 * onnxruntime-node session per graph from the verified bytes.
 *
 * @param {string} dir bundle directory
 * @param {{threshold?: number, verify?: boolean, sessionOptions?: object}} [opts]
 *   threshold overrides manifest.threshold.value; verify=false skips the sha256 of files
 *   (the metadata checks still run).
 * @returns {Promise<Bundle>}
 */
export function loadBundle(dir, { threshold, verify = true, sessionOptions } = {}) {
  return loadWithHost(ort, fsHost(dir), { threshold, verify, verifyAll: true, sessionOptions });
}

/**
 * Read what a single .onnx file says about itself: no manifest needed.
 * @returns {Promise<object>} role, bundleId, formatVersion, modelKind, graphSha256 (+Ok), partners, inputs, outputs, ...
 */
export function readGraphMetadata(file) {
  return readGraph(readFile(file), path.basename(file), sha256);
}

/** A file named on the command line: a regular file (no link, pipe or device), else AeBundleError. */
function readFile(file) {
  const bytes = readRegular(path.dirname(path.resolve(file)), path.basename(file), JSON.stringify(file));
  if (bytes === null) throw new AeBundleError('NOT_FOUND', `${JSON.stringify(file)} does not exist.`);
  return bytes;
}

/**
 * Describe a single .onnx file from its metadata alone, and check the partner graphs
 * it names if they lie beside it.
 * @returns {Promise<object>} role, bundle_id, model_kind, graph_sha256 (+ok), partners (with found/match),
 *   and the inputs/outputs as onnxruntime-node reports them
 */
export async function inspectGraph(file) {
  const bytes = readFile(file);
  const g = await readGraph(bytes, path.basename(file), sha256);
  checkStructure(path.basename(file), bytes); // nothing unchecked reaches onnxruntime, not even to list its inputs
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 }); // no warning about an optional threshold input
  const partners = {};
  const dir = path.dirname(path.resolve(file));
  for (const [role, p] of Object.entries(g.partners)) {
    // a partner's name comes from the graph's metadata: a path beside it, a regular file, or nothing is read
    const other = readRegular(dir, safeRel(String(p && p.file)), JSON.stringify(path.join(path.dirname(file), String(p && p.file))));
    const found = other !== null;
    let match = false;
    if (found) {
      const o = await readGraph(other, p.file, sha256);
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

/**
 * Read `.npy` or `.csv` rows for a bundle (CSV columns by name when the manifest names its features).
 * @param {string} file
 * @param {{width: number, featureNames: string[]|null}} spec
 * @returns {{data: Float32Array|Float64Array, shape: number[], ignored: string[]}}
 */
export function readTable(file, spec) {
  if (!fs.existsSync(file)) throw new AeBundleError('NOT_FOUND', `input file ${JSON.stringify(file)} does not exist.`);
  if (!fs.statSync(file).isFile()) {
    throw new AeBundleError('INVALID_INPUT', `input ${JSON.stringify(file)} is not a regular file (a directory, pipe or device); pass a .npy or .csv file.`);
  }
  const ext = path.extname(file).toLowerCase();
  if (ext === '.npy') return { ignored: [], ...parseNpy(fs.readFileSync(file), file) };
  if (ext === '.csv') return parseCsvBytes(fs.readFileSync(file), file, spec);
  throw new AeBundleError('INVALID_INPUT', `${file}: unsupported input type ${JSON.stringify(ext)}; expected .npy or .csv.`);
}
