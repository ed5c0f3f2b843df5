#!/usr/bin/env node
/**
 * aebundle: check and run an aeexport bundle with onnxruntime-node.
 *
 *   node cli.js score BUNDLE INPUT [--json] [--threshold T] [--batch-size N]
 *   node cli.js check BUNDLE [--json]
 *   node cli.js inspect GRAPH.onnx [--json]
 *
 * Exit codes: 0 ok, 1 failed check (integrity, mixed bundle, golden vector, ...), 2 usage error.
 * Errors print one line on stderr ("aebundle: error [CODE]: ..."); no stack trace.
 */

import { AeBundleError } from '../../aeexport/web/page/core/errors.js';

const USAGE = `usage:
  node cli.js score BUNDLE INPUT [--json] [--threshold T] [--batch-size N]
      verify BUNDLE (sha256, metadata, golden vectors), then print one line per row of
      INPUT (.npy float32/float64 or .csv): score (higher = more anomalous) and
      label (1 = anomaly, score > threshold). CSV on stdout, or JSON with --json.
  node cli.js check BUNDLE [--json]
      verify BUNDLE and print the golden-vector report.
  node cli.js inspect GRAPH.onnx [--json]
      what a single .onnx file says about itself: role, bundle, partner graphs.`;

function parseArgs(argv) {
  const opts = { json: false, threshold: undefined, batchSize: 4096, positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new AeBundleError('INVALID_INPUT', `${a} needs a value.\n${USAGE}`);
      return argv[++i];
    };
    if (a === '--json') opts.json = true;
    else if (a === '--threshold') opts.threshold = value();
    else if (a.startsWith('--threshold=')) opts.threshold = a.slice(12);
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

  const table = api.readTable(args[1], { width: bundle.width, featureNames: bundle.featureNames });
  if (table.ignored && table.ignored.length) {
    process.stderr.write(`note: ${args[1]}: ignored ${table.ignored.length} column(s) the model does not use: ${table.ignored.slice(0, 10).join(', ')}\n`);
  }
  const scores = await bundle.score({ data: table.data, shape: table.shape }, { batchSize: opts.batchSize });
  const labels = bundle.label(scores);
  if (opts.json) {
    process.stdout.write(JSON.stringify({
      bundle_id: bundle.bundleId, kind: bundle.kind, score: bundle.manifest.score.name,
      direction: 'higher_is_more_anomalous', threshold: bundle.threshold, n_rows: scores.length,
      n_anomalies: labels.reduce((a, b) => a + b, 0), golden_checked: golden.length,
      scores: Array.from(scores), labels: Array.from(labels),
    }) + '\n');
  } else {
    process.stderr.write(`bundle ${bundle.bundleId}: ${golden.length} golden outputs ok; threshold ${bundle.threshold}\n`);
    const lines = ['score,label'];
    for (let i = 0; i < scores.length; i++) lines.push(`${scores[i]},${labels[i]}`);
    process.stdout.write(lines.join('\n') + '\n');
  }
  return 0;
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
