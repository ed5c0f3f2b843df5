"""Spark scale-out cost: read -> score -> write on Spark local[2] vs read -> write only vs ``aeruntime score``.

Side by side, in one run, on two Parquet inputs:

- ``synthetic``: N rows (default 2,000,000) x 64 float32 (digit-like values 0..16)
  plus an ``id`` column, scored with the shipped ``models/digits-dense`` bundle;
- ``donors``: ADBench ``11_donors.npz`` (619,326 x 10) as Parquet, scored with a
  dense bundle trained here for a few epochs (speed does not depend on its quality).

Jobs, each timed end to end (median of ``--repeats``, interleaved so that load
changes hit all alike):

- ``spark read+write``: ``spark.read.parquet(in).write.parquet(out)`` (Spark's own cost);
- ``spark read+arrow+write``: the same with an identity ``mapInArrow`` (the Python/Arrow boundary);
- ``spark read+score+write``: ``aeruntime.spark.score(df, bundle)``, every column kept (default
  ``engine="mapInArrow"``: every column crosses to Python and back);
- ``spark read+score+write (arrow_udf)``: the same with ``engine="arrow_udf"`` (only the features cross);
- ``spark read+score+write (id only)``: keep only ``id`` next to ``score``/``label`` (and with ``arrow_udf``);
- ``aeruntime score`` single process: the CLI on the same rows (features only), writing .npy.

Usage::

    python benchmarks/bench_spark.py [--rows 2000000] [--repeats 3] [--datasets DIR] [--out DIR] [--record]

``--record`` writes ``benchmarks/results/spark.md``; otherwise the markdown goes to
``--out`` (default a temporary directory) and stdout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import RESULTS, ROOT, parser, side_by_side, write  # noqa: E402

DATASETS = ROOT / ".." / "shared" / "datasets"
CORES = 2  # local[2]; the single-process runtime uses the same 2 cores (intra-op threads = usable CPUs)


def _write_parquet(path: Path, X: np.ndarray, with_id: bool, chunk: int = 250_000) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = [f"f{i}" for i in range(X.shape[1])]
    writer = None
    for start in range(0, len(X), chunk):
        part = X[start : start + chunk]
        cols = {"id": np.arange(start, start + len(part), dtype=np.int64)} if with_id else {}
        cols.update({n: part[:, i] for i, n in enumerate(names)})
        table = pa.table(cols)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, compression="snappy")
        writer.write_table(table, row_group_size=chunk)
    assert writer is not None
    writer.close()


def _synthetic(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 17, size=(n, 64)).astype(np.float32)


def _donors_bundle(X: np.ndarray, y: np.ndarray, out: Path) -> Path:
    """A dense bundle trained briefly on donors' normal rows (torch; the speed does not depend on the fit)."""
    from aeexport.data import make_split
    from aeexport.export import export_bundle
    from aeexport.settings import TrainConfig
    from aeexport.train import train_model

    rng = np.random.default_rng(0)
    normal = X[y == 0]
    sub = normal[rng.choice(len(normal), size=min(40_000, len(normal)), replace=False)].astype(np.float32)
    split = make_split(sub, None, val_fraction=0.2, seed=0)
    res = train_model(
        split.train, split.val, kind="dense", config=TrainConfig(epochs=3, patience=3, progress=False, seed=0)
    )
    export_bundle(res.model, out, calibration_x=split.val, training=res.summary())
    return out


def make_inputs(args, scratch: Path) -> dict[str, tuple[Path, Path, Path, tuple[int, int]]]:
    """name -> (Parquet with id, Parquet of the features only, bundle, shape) of each input written here."""
    X = _synthetic(args.rows)
    _write_parquet(scratch / "synthetic.parquet", X, with_id=True)
    _write_parquet(scratch / "synthetic-features.parquet", X, with_id=False)
    inputs = {
        "synthetic": (
            scratch / "synthetic.parquet",
            scratch / "synthetic-features.parquet",
            ROOT / "models" / "digits-dense",
            X.shape,
        )
    }
    del X
    donors = args.datasets / "11_donors.npz"
    if not donors.exists():
        print(f"note: {donors} not found; donors skipped (pass --datasets)", file=sys.stderr)
        return inputs
    with np.load(donors, allow_pickle=False) as d:
        Xd, yd = d["X"].astype(np.float32), d["y"]
    _write_parquet(scratch / "donors.parquet", Xd, with_id=True)
    _write_parquet(scratch / "donors-features.parquet", Xd, with_id=False)
    bundle = _donors_bundle(Xd, yd, scratch / "donors-bundle")
    inputs["donors"] = (scratch / "donors.parquet", scratch / "donors-features.parquet", bundle, Xd.shape)
    return inputs


def start_spark():
    """A ``local[CORES]`` session whose Python workers import this checkout."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    paths = [str(ROOT), str(ROOT / "runtime"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master(f"local[{CORES}]")
        .appName("bench_spark")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _identity(batches):
    yield from batches


def jobs(spark, pq_in: Path, feat_in: Path, bundle: Path, out: Path) -> dict:
    """The jobs timed on one input, each reading ``pq_in`` (or ``feat_in``) and writing ``out``."""
    from aeruntime import spark as aespark

    def read():
        df = spark.read.parquet(str(pq_in))
        return df, [c for c in df.columns if c != "id"]

    def save(df) -> None:
        df.write.mode("overwrite").parquet(str(out))

    def score(**kw) -> None:
        df, feats = read()
        save(aespark.score(df, bundle, feats, **kw))

    def arrow() -> None:
        df = read()[0]
        save(df.mapInArrow(_identity, df.schema))

    aeruntime_cli = str(Path(sys.executable).parent / "aeruntime")
    single = [aeruntime_cli, "score", str(bundle), str(feat_in), "--out", str(out) + ".npy"]
    return {
        "spark read+write": lambda: save(read()[0]),
        "spark read+arrow+write": arrow,
        "spark read+score+write": score,
        "spark read+score+write (arrow_udf)": lambda: score(engine="arrow_udf"),
        "spark read+score+write (id only)": lambda: score(keep=["id"]),
        "spark read+score+write (id only, arrow_udf)": lambda: score(keep=["id"], engine="arrow_udf"),
        "aeruntime score (single process)": lambda: subprocess.run(single, check=True, capture_output=True),
    }


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, output=False)
    ap.add_argument("--rows", type=int, default=2_000_000, help="rows of the synthetic 64-column table")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--datasets", type=Path, default=DATASETS, help="directory holding 11_donors.npz")
    ap.add_argument("--out", type=Path, default=None, help="scratch directory (default: a temporary one)")
    ap.add_argument("--record", action="store_true", help="write benchmarks/results/spark.md")
    ap.add_argument("--render", type=Path, default=None, help="re-render the markdown of a spark.json, no timing")
    args = ap.parse_args(argv)
    if args.render is not None:
        raw = json.loads(args.render.read_text(encoding="utf-8"))
        target = RESULTS / "spark.md" if args.record else args.render.with_suffix(".md")
        write("spark", "Spark scale-out: read -> score -> write", render(raw), out=target)
        return 0
    scratch = args.out or Path(tempfile.mkdtemp(prefix="bench_spark-"))
    scratch.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()[0]
    results, parts = measure(args, make_inputs(args, scratch), scratch)
    raw = {
        "pyspark": __import__("pyspark").__version__,
        "repeats": args.repeats,
        "load_start": load_start,
        "load_end": os.getloadavg()[0],
        "partitions": parts,
        "results": results,
    }
    target = RESULTS / "spark.md" if args.record else scratch / "spark.md"
    target.with_suffix(".json").write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    write("spark", "Spark scale-out: read -> score -> write", render(raw), out=target)
    return 0


def measure(args, inputs: dict, scratch: Path) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    """Per input: the median seconds of every job (side by side, after one warm-up run each:
    JVM JIT, Python workers, model caches, page cache), and the input's partition count."""
    spark = start_spark()
    results: dict[str, dict[str, float]] = {}
    parts: dict[str, int] = {}
    for name, (pq_in, feat_in, bundle, shape) in inputs.items():
        out = scratch / f"{name}-out"
        parts[name] = spark.read.parquet(str(pq_in)).rdd.getNumPartitions()
        timings = side_by_side(jobs(spark, pq_in, feat_in, bundle, out), args.repeats)
        results[name] = {k: t.median for k, t in timings.items()} | {"_rows": shape[0], "_cols": shape[1]}
        shutil.rmtree(out, ignore_errors=True)
        print(name, {k: round(v, 2) for k, v in results[name].items()}, file=sys.stderr, flush=True)
    spark.stop()
    return results, parts


def render(raw: dict) -> list[str]:
    """The markdown body from the raw figures (``--render spark.json`` re-renders without measuring)."""
    results, parts = raw["results"], raw["partitions"]
    body = [
        (
            f"Spark {raw['pyspark']} `local[{CORES}]` (1 onnxruntime thread per task), Parquet/snappy in and out; "
            f"median of {raw['repeats']} interleaved repeats after a warm-up run. Load average "
            f"{raw['load_start']:.1f} at start, {raw['load_end']:.1f} at the end on 2 cores (the machine is shared "
            "with other agents: absolute figures are pessimistic, ratios are side by side)."
        ),
        "",
    ]
    body += [
        "| data | job | seconds | rows/s | rows/s per core | vs read+write |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    summary = []
    for name, r in results.items():
        n = r["_rows"]
        base = r["spark read+write"]
        for k, t in r.items():
            if k.startswith("_"):
                continue
            rel = f"{t / base:.2f}x" if k.startswith("spark") else ""
            body.append(
                f"| {name} ({n:,} x {r['_cols']}, {parts[name]} partitions) | {k} | {t:.2f} | "
                f"{n / t:,.0f} | {n / t / CORES:,.0f} | {rel} |"
            )
        added = r["spark read+score+write"] / base - 1
        boundary = r["spark read+arrow+write"] / base - 1
        over = r["spark read+score+write"] / r["spark read+arrow+write"] - 1
        single = r["aeruntime score (single process)"]
        ratio_id = r["spark read+score+write (id only)"] / single
        ratio_all = r["spark read+score+write"] / single
        udf = r.get("spark read+score+write (arrow_udf)")
        engines = (
            f' (`engine="mapInArrow"`, the default; `engine="arrow_udf"` adds {udf / base - 1:+.0%})' if udf else ""
        )
        summary.append(
            f"- {name}: scoring with every column kept adds **{added:+.0%}** to Spark's read+write{engines} "
            "(goal <= +30%); "
            f"Spark's own Python/Arrow boundary (an identity `mapInArrow`) alone adds {boundary:+.0%}, so the "
            + (
                f"model adds {over:+.0%} on top of it"
                if over >= 0.03
                else f"model's own cost is within the noise ({over:+.0%})"
            )
            + f". Per core, single-process `aeruntime score` is **{ratio_id:.2f}x** "
            f"the Spark job with the same outputs (id, score, label; goal <= 2x), {ratio_all:.2f}x the job that "
            "also writes every input column back."
        )
    body += ["", "Goals:", "", *summary, ""]
    if all("spark read+score+write (arrow_udf)" in r for r in results.values()):
        body += [
            "## Engines: `mapInArrow` (default) vs `arrow_udf`",
            "",
            (
                '`engine="arrow_udf"` sends only the packed features to Python and only score/label back (the '
                "pass-through columns stay in the JVM); `mapInArrow` sends every kept column through Python and back. "
                "Seconds, same run:"
            ),
            "",
            "| data | keep | mapInArrow | arrow_udf | arrow_udf / mapInArrow |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        for name, r in results.items():
            for keep, a, b in [
                ("every column", "spark read+score+write", "spark read+score+write (arrow_udf)"),
                ("id", "spark read+score+write (id only)", "spark read+score+write (id only, arrow_udf)"),
            ]:
                if b in r:
                    body.append(f"| {name} | {keep} | {r[a]:.2f} | {r[b]:.2f} | {r[b] / r[a]:.2f}x |")
        body += [
            "",
            (
                "`arrow_udf` is not faster even when every column is kept: Spark's `ArrowEvalPython` buffers each "
                "input row in the JVM and joins the UDF output back row by row, which costs more than shipping the "
                "columns through `mapInArrow`. So `mapInArrow` stays the default."
            ),
            "",
        ]
    rate = results["synthetic"]["_rows"] / results["synthetic"]["spark read+score+write (id only)"] / CORES
    body += [
        "## Projection: 1 billion rows x 64 features (on paper, not measured)",
        "",
        (
            f"From the measured per-core rate of the synthetic `spark read+score+write (id only)` job "
            f"({rate:,.0f} rows/s per core, Parquet read and write included), assuming linear scaling, storage "
            "that keeps up, and no stragglers:"
        ),
        "",
        "| executors | cores each | total cores | projected time |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for ex, cores in [(1, 4), (10, 4), (50, 4), (100, 8), (250, 8)]:
        secs = 1e9 / (rate * ex * cores)
        when = f"{secs / 3600:.1f} h" if secs >= 3600 else f"{secs / 60:.1f} min"
        body.append(f"| {ex} | {cores} | {ex * cores} | {when} |")
    return body


if __name__ == "__main__":
    raise SystemExit(main())
