/**
 * The bundle's records, host-agnostic: manifest.json, the paths it lists and each graph's
 * aeexport.* metadata, checked against each other (roles, bundle_id, graph_sha256, partners).
 * Bytes come in, facts or an AeBundleError come out; reading and hashing belong to the host
 * adapter (examples/node/aebundle.js: fs/crypto; ../web.js: fetch/WebCrypto).
 * The format is described in docs/bundle-format.md of the aeexport repository.
 */

import { AeBundleError } from './errors.js';
import { readModel } from './onnx.js';
import { pyFloat } from './rows.js';
import { parseStrictJson } from './strictjson.js';

/** Bundle format versions this reader understands. A newer one is refused. */
export const SUPPORTED_FORMAT_VERSIONS = [1];
export const META = 'aeexport.';
const REQUIRED = {
  format_version: 'number', bundle_id: 'string', model: 'object', input: 'object', latent: 'object',
  graphs: 'object', score: 'object', threshold: 'object', files: 'object',
};

/**
 * Parse and check manifest.json.
 * @param {Uint8Array} bytes the file's bytes
 * @param {string} where the manifest's name in messages
 * @param {string} updateHint what to do about a newer format version, for this host
 * @throws {AeBundleError} MANIFEST, UNSUPPORTED_FORMAT
 */
export function parseManifest(bytes, where, updateHint) {
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new AeBundleError('MANIFEST', `${where} is not UTF-8 text; re-export the bundle.`);
  }
  const m = parseStrictJson(text, where); // one truth per key, numbers in range
  if (m === null || typeof m !== 'object' || Array.isArray(m)) {
    throw new AeBundleError('MANIFEST', `${where} must hold a JSON object; re-export the bundle.`);
  }
  if (!Number.isInteger(m.format_version) || !SUPPORTED_FORMAT_VERSIONS.includes(m.format_version)) {
    throw new AeBundleError('UNSUPPORTED_FORMAT', `${where} has format_version ${JSON.stringify(m.format_version)}, but this reader supports format versions ${JSON.stringify(SUPPORTED_FORMAT_VERSIONS)}. ${updateHint}`);
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

/** A manifest-relative path that stays inside the bundle: no absolute path, drive, backslash, `.` or `..`. */
export function safeRel(rel) {
  const parts = String(rel).split('/');
  if (typeof rel !== 'string' || rel === '' || rel.startsWith('/') || rel.includes('\\') || rel.includes('\0')
      || parts.some((p) => p === '..' || p === '' || p === '.') || /^[a-z]+:/i.test(rel)) {
    throw new AeBundleError('INTEGRITY', `manifest lists ${JSON.stringify(rel)}, which points outside the bundle directory; refusing to read it.`);
  }
  return rel;
}

export function integrityError(rel, actual, expected) {
  return new AeBundleError('INTEGRITY', `${rel} has sha256 ${actual.slice(0, 16)}…, but the manifest records ${String(expected).slice(0, 16)}…: the file was modified or corrupted after export. Re-export or re-copy the bundle.`);
}

function parseJsonMeta(meta, key, file) {
  const v = meta[META + key];
  if (v === undefined) {
    throw new AeBundleError('METADATA', `${file} has no metadata key ${META}${key}; it was not written by aeexport, or was stripped. Re-export the bundle.`);
  }
  try {
    return parseStrictJson(v, `${file}: metadata ${META}${key}`);
  } catch (e) {
    throw new AeBundleError('METADATA', e.message);
  }
}

/**
 * What a single .onnx file says about itself: no manifest needed.
 * @param {Uint8Array} bytes the file
 * @param {string} label its name in messages
 * @param {(bytes: Uint8Array) => Promise<string>} sha256 the host's hex sha256
 * @returns {Promise<{role: string, bundleId: string, formatVersion: number, modelKind: string,
 *   graphSha256: string, graphSha256Ok: boolean, partners: Object<string, {file: string, graph_sha256: string}>,
 *   inputs: object[], outputs: object[], metadata: Object<string,string>, producer: string, opsets: object[]}>}
 */
export async function readGraph(bytes, label, sha256) {
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
  const graphSha256 = await sha256(model.graphBytes);
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
  };
}

/** The roles every graph of a bundle names as its partners (aeruntime.format.constants.CORE_ROLES). */
export const CORE_ROLES = ['encoder', 'decoder', 'scorer'];
const RECOPY = 'Copy all files of one bundle together (cp -r), or re-export it.';

const metaOf = (g) => Object.fromEntries(Object.entries(g.metadata)
  .filter(([k]) => k.startsWith(META)).map(([k, v]) => [k.slice(META.length), v]));

const disagree = (msg) => new AeBundleError('METADATA', `${msg} ${RECOPY}`);

/** Keys a graph repeats from the manifest (aeruntime's _check_one_truth): threshold, minimum runtime, kind, score. */
function checkOneTruth(manifest, role, rel, g) {
  const meta = metaOf(g);
  if ('threshold' in meta && pyFloat(meta.threshold) !== manifest.threshold.value) {
    throw disagree(`${rel} records threshold ${meta.threshold}, but manifest.json has threshold.value ${JSON.stringify(manifest.threshold.value)}: a bundle holds one threshold, edited in only one place here.`);
  }
  const ours = manifest.min_onnxruntime;
  if (CORE_ROLES.includes(role) && (ours !== undefined || 'min_onnxruntime' in meta) && meta.min_onnxruntime !== ours) {
    throw disagree(`${rel} records min_onnxruntime ${JSON.stringify(meta.min_onnxruntime)}, but manifest.json has min_onnxruntime ${JSON.stringify(ours)}: a bundle holds one minimum runtime, edited in only one place here.`);
  }
  if ('model_kind' in meta && meta.model_kind !== manifest.model.kind) {
    throw disagree(`${rel} records model kind ${JSON.stringify(meta.model_kind)}, but manifest.json has model.kind ${JSON.stringify(manifest.model.kind)}.`);
  }
  if (role === 'scorer' && 'score' in meta) {
    const score = parseJsonMeta(g.metadata, 'score', rel);
    const theirs = score !== null && typeof score === 'object' ? score.name : score;
    if (theirs !== manifest.score.name) {
      throw disagree(`${rel} computes score ${JSON.stringify(theirs)}, but manifest.json has score.name ${JSON.stringify(manifest.score.name)}.`);
    }
  }
}

/** Shapes and input/output names a core graph records, against the manifest (aeruntime's _check_io). */
function checkIo(manifest, role, rel, g) {
  const meta = metaOf(g);
  for (const [key, want] of [['input_shape', manifest.input.shape], ['latent_shape', manifest.latent.shape]]) {
    if (key in meta && JSON.stringify(parseJsonMeta(g.metadata, key, rel)) !== JSON.stringify(want)) {
      throw disagree(`${rel} has ${key} ${meta[key]}, but manifest.json says ${JSON.stringify(want)}.`);
    }
  }
  for (const key of ['inputs', 'outputs']) {
    if (!(key in meta)) continue;
    const recs = parseJsonMeta(g.metadata, key, rel);
    const names = Array.isArray(recs) && recs.every((r) => r !== null && typeof r === 'object' && !Array.isArray(r)) ? recs.map((r) => r.name) : null;
    const want = manifest.graphs[role][key];
    if (JSON.stringify(names) !== JSON.stringify(want)) {
      throw disagree(`${rel} has ${key} ${JSON.stringify(names)}, but manifest.json lists ${JSON.stringify(want)} for the ${role} graph.`);
    }
  }
}

/**
 * One graph's metadata against the manifest, the rules of aeruntime.format.graphs: format
 * version, role, bundle_id, graph_sha256, and the keys it repeats from the manifest
 * (threshold, min_onnxruntime, model kind, the scorer's score, shapes, input/output names).
 */
export function checkGraph(manifest, role, g) {
  const info = manifest.graphs[role];
  const rel = info.file;
  const meta = metaOf(g);
  if (!SUPPORTED_FORMAT_VERSIONS.includes(g.formatVersion) || ('format_version' in meta && meta.format_version !== String(manifest.format_version))) {
    throw new AeBundleError('UNSUPPORTED_FORMAT', `${rel} has ${META}format_version ${JSON.stringify(g.metadata[META + 'format_version'])}, but manifest.json has ${manifest.format_version} and this reader supports ${JSON.stringify(SUPPORTED_FORMAT_VERSIONS)}; update the consumer or re-export.`);
  }
  if (g.role !== role) {
    throw new AeBundleError('METADATA', `${rel} says it is the ${JSON.stringify(g.role)} graph (${META}role), but the manifest lists it as the ${role}; the files were renamed or swapped. Re-copy the bundle.`);
  }
  if (g.bundleId !== manifest.bundle_id) {
    throw new AeBundleError('MIXED_BUNDLE', `${rel} belongs to bundle ${JSON.stringify(g.bundleId)}, but manifest.json describes bundle ${JSON.stringify(manifest.bundle_id)}: graphs from different exports were mixed. Copy all files of one bundle together, or re-export.`);
  }
  checkOneTruth(manifest, role, rel, g);
  if (!g.graphSha256Ok || g.graphSha256 !== info.graph_sha256) {
    throw new AeBundleError('INTEGRITY', `${rel}: the sha256 of its graph is ${g.graphSha256.slice(0, 16)}…, but its metadata records ${String(g.metadata[META + 'graph_sha256']).slice(0, 16)}… and the manifest ${String(info.graph_sha256).slice(0, 16)}…: the graph was modified after export. Re-export or re-copy the bundle.`);
  }
  if (CORE_ROLES.includes(role)) checkIo(manifest, role, rel, g);
}

/** Partners: each graph names the others by file and graph_sha256; a core graph names every other core graph listed. */
export function checkPartners(manifest, graphs) {
  for (const [role, g] of Object.entries(graphs)) {
    if (g.partners === null || typeof g.partners !== 'object' || Array.isArray(g.partners)) {
      throw new AeBundleError('METADATA', `${manifest.graphs[role].file}: metadata ${META}partners is not an object. ${RECOPY}`);
    }
    if (CORE_ROLES.includes(role)) {
      const absent = CORE_ROLES.find((o) => o !== role && graphs[o] && !(o in g.partners));
      if (absent) {
        throw new AeBundleError('MIXED_BUNDLE', `${manifest.graphs[role].file} was exported without a ${absent} graph, but manifest.json lists one (${JSON.stringify(manifest.graphs[absent].file)}): graphs from different exports were mixed. ${RECOPY}`);
      }
    }
    for (const [prole, p] of Object.entries(g.partners)) {
      const other = graphs[prole];
      if (!other) continue; // optional partner (e.g. scorer) absent from this bundle
      if (p === null || typeof p !== 'object' || p.graph_sha256 !== other.graphSha256 || p.file !== manifest.graphs[prole].file) {
        throw new AeBundleError('MIXED_BUNDLE', `${manifest.graphs[role].file} expects its ${prole} partner ${p.file} with graph_sha256 ${String(p.graph_sha256).slice(0, 16)}…, but ${manifest.graphs[prole].file} has ${other.graphSha256.slice(0, 16)}…: graphs from different exports were mixed. Re-copy the bundle.`);
      }
    }
  }
}

/** The golden vector sets of a graph, from the manifest: golden.sets[role], else the listed test_data_set_N folders. */
export function goldenSets(manifest, role) {
  const listed = manifest.golden && manifest.golden.sets && manifest.golden.sets[role];
  if (Array.isArray(listed)) return listed.map(String);
  const prefix = `test_data/${role}/`;
  return [...new Set(Object.keys(manifest.files).filter((f) => f.startsWith(prefix)).map((f) => f.split('/')[2]))]
    .filter((s) => /^test_data_set_\d+$/.test(s)).sort((a, b) => Number(a.split('_').pop()) - Number(b.split('_').pop()));
}

/** The listed `input_i.pb` or `output_i.pb` files of one golden set, in order of i. */
export function goldenFiles(manifest, base, kind) {
  const re = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/${kind}_(\\d+)\\.pb$`);
  return Object.keys(manifest.files).filter((f) => re.test(f))
    .sort((a, b) => Number(a.match(re)[1]) - Number(b.match(re)[1]));
}
