#!/usr/bin/env node
/**
 * aebundle: check and run an aeexport bundle with onnxruntime-node.
 *
 *   node cli.js score BUNDLE INPUT [--json] [--threshold T | --fpr A] [--batch-size N]
 *   node cli.js check BUNDLE [--json]
 *   node cli.js inspect GRAPH.onnx [--json]
 *
 * Exit codes: 0 ok, 1 failed check (integrity, mixed bundle, golden vector, ...), 2 usage error.
 * Errors print one line on stderr ("aebundle: error [CODE]: ..."); no stack trace.
 */

import { AeBundleError } from '../../aeexport/web/page/core/errors.js';

const USAGE = `usage:
  node cli.js score BUNDLE INPUT [--json] [--threshold T] [--fpr A] [--batch-size N]
      verify BUNDLE (sha256, metadata, golden vectors), then print one line per row of
      INPUT (.npy float32/float64 or .csv): score (higher = more anomalous) and
      label (1 = anomaly, score > threshold); a decision scorer adds p_value (the share
      of held-out normal rows scoring at least as high) and takes --threshold T (fed
      to the graph) or --fpr A (label = p_value <= A; wins over --threshold).
      A series bundle: INPUT's rows are time steps; one line per row: score (nan
      during the first W-1 warm-up rows), label, p_value (a decision scorer), warmup, alarm; read in chunks of
      --batch-size rows (a chunk boundary changes nothing). CSV on stdout, or JSON with --json.
  node cli.js check BUNDLE [--json]
      verify BUNDLE and print the golden-vector report.
  node cli.js inspect GRAPH.onnx [--json]
      what a single .onnx file says about itself: role, bundle, partner graphs.`;

function parseArgs(argv) {
  const opts = { json: false, threshold: undefined, fpr: undefined, batchSize: 4096, positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new AeBundleError('INVALID_INPUT', `${a} needs a value.\n${USAGE}`);
      return argv[++i];
    };
    if (a === '--json') opts.json = true;
    else if (a === '--threshold') opts.threshold = value();
    else if (a.startsWith('--threshold=')) opts.threshold = a.slice(12);
    else if (a === '--fpr') opts.fpr = value();
    else if (a.startsWith('--fpr=')) opts.fpr = a.slice(6);
    else if (a === '--batch-size') opts.batchSize = Number(value());
    else if (a === '-h' || a === '--help') opts.help = true;
    else if (a.startsWith('-') && a !== '-') throw new AeBundleError('INVALID_INPUT', `unknown option ${a}.\n${USAGE}`);
    else opts.positional.push(a);
  }
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
    throw new AeBundleError('INVALID_INPUT', `--batch-size must be a positive integer, got ${opts.batchSize}.`);
  }
  return opts;
}

function fmtGolden(rows) {
  return rows.map((r) => `golden ${r.role}/${r.set} ${r.output} batch ${r.batch}: max abs ${r.maxAbs.toExponential(2)} ok`).join('\n');
}

async function main(argv) {
  const opts = parseArgs(argv);
  const [cmd, ...args] = opts.positional;
  if (opts.help || !cmd) {
    process.stdout.write(USAGE + '\n');
    return opts.help ? 0 : 2;
  }
  const want = { score: 2, check: 1, inspect: 1 }[cmd];
  if (want === undefined) throw new AeBundleError('INVALID_INPUT', `unknown command ${JSON.stringify(cmd)}.\n${USAGE}`);
  if (args.length !== want) throw new AeBundleError('INVALID_INPUT', `${cmd} takes ${want} argument(s), got ${args.length}.\n${USAGE}`);
  // Loaded here so that usage errors need no native binding.
  const api = await import('./aebundle.js');

  if (cmd === 'inspect') {
    const info = await api.inspectGraph(args[0]);
    if (opts.json) process.stdout.write(JSON.stringify(info, null, 2) + '\n');
    else {
      const p = Object.entries(info.partners).map(([r, v]) => `${r}=${v.file}${v.found ? (v.match ? ' (ok)' : ' (MISMATCH)') : ' (not found)'}`);
      process.stdout.write(`${info.file}: ${info.role} graph of a ${info.model_kind} autoencoder, bundle ${info.bundle_id}, format ${info.format_version}\n`
        + `inputs: ${info.inputs.map((i) => `${i.name} ${i.type}[${i.shape}]`).join(', ')}\n`
        + `outputs: ${info.outputs.map((o) => `${o.name} ${o.type}[${o.shape}]`).join(', ')}\n`
        + `graph_sha256: ${info.graph_sha256} (${info.graph_sha256_ok ? 'matches its metadata' : 'DOES NOT match its metadata'})\n`
        + `partners: ${p.join(', ')}\n`);
    }
    return info.graph_sha256_ok && Object.values(info.partners).every((v) => !v.found || v.match) ? 0 : 1;
  }

  const bundle = await api.loadBundle(args[0], { threshold: opts.threshold });
  const golden = await bundle.checkGolden();
  if (cmd === 'check') {
    if (opts.json) process.stdout.write(JSON.stringify({ ...bundle.info(), golden, ok: true }, null, 2) + '\n');
    else process.stdout.write(`${fmtGolden(golden)}\nbundle ${bundle.bundleId} (${bundle.kind}): all files, graphs and ${golden.length} golden outputs ok\n`);
    return 0;
  }

  const width = bundle.series ? bundle.inputShape[1] : bundle.width; // a series: one time step of C columns
  const table = api.readTable(args[1], { width, featureNames: bundle.featureNames });
  if (table.ignored && table.ignored.length) {
    process.stderr.write(`note: ${args[1]}: ignored ${table.ignored.length} column(s) the model does not use: ${table.ignored.slice(0, 10).join(', ')}\n`);
  }
  const run = bundle.series ? scoreSeriesTable : scoreRows;
  const { json, csv, summary } = await run(api, bundle, table, opts, args[1]);
  if (opts.json) {
    process.stdout.write(JSON.stringify({
      bundle_id: bundle.bundleId, kind: bundle.kind, score: bundle.manifest.score.name,
      direction: 'higher_is_more_anomalous', threshold: bundle.threshold, golden_checked: golden.length, ...json,
    }) + '\n');
  } else {
    process.stderr.write(`bundle ${bundle.bundleId}: ${golden.length} golden outputs ok; ${summary}\n`);
    process.stdout.write(csv.join('\n') + '\n');
  }
  return 0;
}

const sum = (a) => a.reduce((x, y) => x + y, 0);

/** Rows: score, label (at --fpr when given) and, for a decision scorer, the graph's p_value. */
async function scoreRows(api, bundle, table, opts) {
  const x = { data: table.data, shape: table.shape };
  const decide = bundle.calibrationSize !== null;
  if (opts.fpr !== undefined && !decide) bundle.fprLabels([], opts.fpr); // the typed error, before any work
  if (opts.fpr !== undefined) api.checkRate(opts.fpr, 'fpr');
  if (opts.fpr !== undefined) process.stderr.write(bundle.operatingPoint(opts.fpr).line + '\n'); // its threshold and FPR interval, as aeruntime
  const out = decide ? await bundle.decide(x, { batchSize: opts.batchSize }) : await bundle.score(x, { batchSize: opts.batchSize }).then((score) => ({ score }));
  const labels = opts.fpr !== undefined ? bundle.fprLabels(out.pValue, opts.fpr) : (decide ? out.label : bundle.label(out.score));
  const json = { n_rows: out.score.length, n_anomalies: sum(labels), scores: Array.from(out.score), labels: Array.from(labels) };
  const csv = [decide ? 'score,label,p_value' : 'score,label'];
  for (let i = 0; i < out.score.length; i++) csv.push(decide ? `${out.score[i]},${labels[i]},${out.pValue[i]}` : `${out.score[i]},${labels[i]}`);
  if (decide) Object.assign(json, { p_values: Array.from(out.pValue), calibration_scores: bundle.calibrationSize, fpr: opts.fpr === undefined ? null : Number(opts.fpr) });
  const at = opts.fpr !== undefined ? `fpr ${opts.fpr}` : `threshold ${bundle.threshold}`;
  return { json, csv, summary: `${at}, ${json.n_anomalies} of ${json.n_rows} rows labelled 1` };
}

/** A series: one line per time step (score, label, [p_value,] warmup, alarm), scored in chunks of --batch-size rows. */
async function scoreSeriesTable(api, bundle, table, opts, name) {
  if (opts.fpr !== undefined) {
    throw new api.AeBundleError('INVALID_INPUT', '--fpr labels single rows by their p-values; a series bundle labels time steps by its threshold and alarm rule: drop --fpr (or pass --threshold).');
  }
  const out = await api.scoreSeries(bundle, table.data, table.shape[0], { chunkRows: opts.batchSize, name });
  const n = out.score.length;
  const p = out.pValue; // a decision scorer's p_value column (nan in the warm-up), as aeruntime and aescore --stream
  const csv = [p ? 'score,label,p_value,warmup,alarm' : 'score,label,warmup,alarm'];
  for (let i = 0; i < n; i++) {
    const pv = p ? `${out.warmup[i] ? 'nan' : p[i]},` : '';
    csv.push(`${out.warmup[i] ? 'nan' : out.score[i]},${out.label[i]},${pv}${out.warmup[i]},${out.alarm[i]}`);
  }
  const json = {
    n_rows: n, window: bundle.series.window, alarm_rule: bundle.series.alarm, n_anomalies: sum(out.label), n_alarms: sum(out.alarm),
    scores: Array.from(out.score, (s, i) => (out.warmup[i] ? null : s)), labels: Array.from(out.label), warmup: Array.from(out.warmup), alarms: Array.from(out.alarm),
  };
  if (p) json.p_values = Array.from(p, (v, i) => (out.warmup[i] ? null : v));
  return { json, csv, summary: `series of ${n} rows, window ${bundle.series.window}, threshold ${bundle.threshold}: ${json.n_anomalies} steps labelled 1, ${json.n_alarms} alarms` };
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    if (err instanceof AeBundleError) {
      process.stderr.write(`aebundle: error [${err.code}]: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`aebundle: unexpected error: ${err && err.stack ? err.stack : err}\n`);
      process.exitCode = 1;
    }
  },
);
