"""The figures README.md and docs/*.md quote are the recorded ones (no drift).

Each :class:`Figure` names a quote in a document (a regular expression whose one group is the
quoted figure) and the record it comes from: a file under ``benchmarks/results/`` (or, for the
Python version, ``pyproject.toml``) and an expression whose one group is the recorded value,
written the way the document rounds it (``form``). A figure edited in a document, or a result
re-recorded without the document following, fails here with both values named.

To add a figure: quote it in the document, record it under ``benchmarks/results/`` with the
command that measured it, and add a row here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.conftest import ROOT


def same(text: str) -> str:
    return text


def rounded(digits: int) -> Callable[[str], str]:
    """A recorded number (``1.81x``, ``10.8``, ``4,715.8``) rounded to ``digits`` decimals."""
    return lambda text: f"{float(text.replace(',', '').rstrip('x%')):.{digits}f}"


def millions(text: str) -> str:
    """``9,089,496`` -> ``9.1`` (M rows/s)."""
    return f"{int(text.replace(',', '')) / 1e6:.1f}"


def thousands(text: str) -> str:
    """``4,715.8`` (MB) -> ``4.7`` (GB)."""
    return f"{float(text.replace(',', '')) / 1e3:.1f}"


@dataclass(frozen=True)
class Figure:
    name: str
    doc: str  # path under the repository root
    quote: str  # regex; group 1 is the figure as the document quotes it
    source: str  # the record: benchmarks/results/... (or pyproject.toml)
    recorded: str  # regex; group 1 is the recorded value
    form: Callable[[str], str] = same  # recorded value -> the document's text


R = "README.md"
EDGE_SPEED = "benchmarks/results/edge_speed.md"
FP32 = r"\| aeruntime fp32 \| ([\d.]+) \|"
TORCH = r"\| torch eager \(fp32\) \| ([\d.]+) \|"

FIGURES = [
    # the Speed table
    Figure("batch-1 latency", R, r"batch-1 `score` latency \| ([\d.]+) µs", EDGE_SPEED, FP32),
    Figure("batch-1 torch", R, r"\| torch eager ([\d.]+) µs \|", EDGE_SPEED, TORCH),
    Figure(
        "batch-1 speed-up",
        R,
        r"µs \| ([\d.]+)x faster \|\n\| batch-1, vs",
        EDGE_SPEED,
        r"batch-1 >= 4x torch: \*\*([\d.]+)x",
        rounded(1),
    ),
    Figure(
        "batch-1 raw session",
        R,
        r"`scorer.onnx` \| [\d.]+ µs \| ([\d.]+) µs",
        EDGE_SPEED,
        r"\| onnxruntime raw session \(fp32\) \| ([\d.]+) \|",
    ),
    Figure(
        "throughput",
        R,
        r"batch-65,536 throughput \| ([\d.]+) M rows/s",
        EDGE_SPEED,
        r"\| aeruntime fp32 \| [\d.]+ \| [\d.]+x \| ([\d,]+) \|",
        millions,
    ),
    Figure(
        "throughput torch",
        R,
        r"\| torch eager ([\d.]+) M rows/s",
        EDGE_SPEED,
        r"\| torch eager \(fp32\) \| [\d.]+ \| [\d.]+x \| ([\d,]+) \|",
        millions,
    ),
    Figure(
        "throughput ratio",
        R,
        r"M rows/s \| ([\d.]+)x \|",
        EDGE_SPEED,
        r"batch-65,536 >= 2x torch: \*\*([\d.]+)x",
        rounded(1),
    ),
    Figure("GEMM peak", R, r"fp32 GEMM peak \((\d+) GFLOP/s\)", EDGE_SPEED, r"\*\*([\d.]+) GFLOP/s\*\*", rounded(0)),
    Figure(
        "share of GEMM peak", R, r"GFLOP/s\) \| ([\d.]+)% \|", EDGE_SPEED, r">= 50% of GEMM peak: \*\*([\d.]+)%\*\*"
    ),
    Figure(
        "cold start",
        R,
        r"first score \| ([\d.]+) s \|",
        "benchmarks/results/cold_start.md",
        r"\| aeruntime \(numpy \+ onnxruntime\) \| ([\d.]+) \|",
        rounded(2),
    ),
    Figure(
        "cold start torch",
        R,
        r"\| torch path ([\d.]+) s \|",
        "benchmarks/results/cold_start.md",
        r"\| torch eager \(import torch \+ checkpoint\) \| ([\d.]+) \|",
        rounded(2),
    ),
    Figure(
        "cold start ratio",
        R,
        r"torch path [\d.]+ s \| ([\d.]+)x faster",
        "benchmarks/results/cold_start.md",
        r"aeruntime is \*\*([\d.]+)x\*\* faster",
    ),
    Figure(
        "footprint",
        R,
        r"installed footprint \| (\d+) MB",
        "benchmarks/results/footprint.md",
        r"\*\*([\d.]+) MB\*\* \(du of site-packages\)",
        rounded(0),
    ),
    Figure(
        "footprint torch",
        R,
        r"\| ([\d.]+) GB \(torch, CUDA build\)",
        "benchmarks/results/footprint.md",
        r"\| torch path \| \d+ \| ([\d,.]+) MB \|",
        thousands,
    ),
    Figure(
        "footprint ratio",
        R,
        r"CUDA build\) \| (\d+)x smaller",
        "benchmarks/results/footprint.md",
        r"The torch path is \*\*([\d.]+)x\*\* larger",
        rounded(0),
    ),
    Figure(
        "stream RSS",
        R,
        r"1M vs 10M rows \| (\d+) MB",
        "benchmarks/results/stream_rss.md",
        r"\| 1,000,000 \| [\d,]+ MB \| ([\d.]+) MB",
        rounded(0),
    ),
    Figure(
        "stream RSS growth",
        R,
        r"1M vs 10M rows \| \d+ MB \| \d+ MB \| ([+\-][\d.]+%) \|",
        "benchmarks/results/stream_rss.md",
        r"Peak RSS grows by \*\*([+\-][\d.]+%)\*\*",
    ),
    Figure(
        "stream RSS (big inputs)",
        R,
        r"\(`.npy`: (\d+) MB for 1M and for 10M rows",
        "benchmarks/results/stream_rss.md",
        r"\| 10,000,000 \| [\d,]+ MB \| ([\d.]+) MB",
        rounded(0),
    ),
    Figure(
        "Parquet RSS growth",
        R,
        r"Parquet: ([+\-]\d+%) from 200k to 2M rows",
        "benchmarks/results/table_io.md",
        r"peak RSS changes by \*\*([+\-]\d+%)\*\* from 200,000 to 2,000,000",
    ),
    # the `aeexport run digits` block (the time: the recorded run's, which depends on the machine's load)
    *[
        Figure(
            f"digits run: {key}",
            R,
            rf"\n *({key} +[^\n]+)",
            "benchmarks/results/digits_run.md",
            rf"\n *({key} +[^\n]+)",
        )
        for key in ("dataset", "model", "threshold", "parity", "test", "best recall")
    ],
    Figure(
        "digits run: time",
        R,
        r"\n *time +([\d.]+s) -> runs/digits/bundle",
        "benchmarks/results/digits_run.md",
        r"\n *time +([\d.]+s) -> runs/digits/bundle",
    ),
    # the "Series and streams" block (every line of the run, the time the recorded run's) and the stream's per-step cost
    *[
        Figure(
            f"series example: {key}",
            R,
            rf"\n\$ {cmd}[^\n]*\n(?:[^\n]*\n)*?({key} +[^\n]+)",
            "benchmarks/results/series_run.md",
            rf"\n\$ {cmd}[^\n]*\n(?:[^\n]*\n)*?({key} +[^\n]+)",
        )
        for cmd, keys in (
            ("aeexport run series.csv", ("window", "dataset", "model", "threshold", "parity", "test", "time")),
            ("aeruntime score runs/series", ("scored",)),
            ("aeexport evaluate runs/series", ("steps", "AUC-PR", "AUC-ROC", "VUS-PR", "ranges", "delay", "false alm")),
        )
        for key in keys
    ],
    Figure(
        "series push / raw",
        R,
        r"its window: ([\d.]+)x on a 32 x 25 window",
        "benchmarks/results/series.md",
        r"\| smap-like \| 32 x 25 \| [^|]+\| [\d.]+ \| [\d.]+ \| ([\d.]+)x",
    ),
    # the install note and the footprint table: what `[tables]` (pyarrow) adds
    Figure(
        "tables extra",
        R,
        r"pyarrow, \+(\d+) MB\)",
        "benchmarks/results/footprint.md",
        r"adds pyarrow[^*]*\*\*\+([\d.]+) MB",
        rounded(0),
    ),
    Figure(
        "tables extra (table)",
        R,
        r"adds pyarrow, (\d+) MB\)",
        "benchmarks/results/footprint.md",
        r"adds pyarrow[^*]*\*\*\+([\d.]+) MB",
        rounded(0),
    ),
    # the static site of `aeexport web models/digits-conv`
    Figure(
        "site size",
        R,
        r"WebAssembly build, about ([\d.]+) MiB in all",
        "benchmarks/results/site.md",
        r"`models/digits-conv` \| \*\*([\d.]+) MiB",
    ),
    Figure(
        "site size (web example)",
        "examples/web/README.md",
        r"self-contained \(about ([\d.]+) MiB",
        "benchmarks/results/site.md",
        r"`models/digits-conv` \| \*\*([\d.]+) MiB",
    ),
    # the image preset's measured FPR at percentile 96 (10 seeds, table 4b of digits_defaults.md)
    Figure(
        "percentile-96 FPR",
        R,
        r"\(([\d.]+% ± [\d.]+) over 10 seeds",
        "benchmarks/results/digits_defaults.md",
        r"\| recommended, val 0\.30 \| 96 \| ([\d.]+ ± [\d.]+) \|",
        lambda t: "{:.1f}% ± {:.1f}".format(*(100 * float(v) for v in t.split(" ± "))),
    ),
    # the denoising demo
    Figure(
        "PSNR noisy",
        R,
        r"\(([\d.]+) dB → [\d.]+ dB in",
        "benchmarks/results/denoise.md",
        r"\| noisy \| [\d.]+ \| ([\d.]+) \|",
        rounded(1),
    ),
    Figure(
        "PSNR denoised",
        R,
        r"dB → ([\d.]+) dB in",
        "benchmarks/results/denoise.md",
        r"\| denoised \| [\d.]+ \| ([\d.]+) \|",
        rounded(1),
    ),
    # the peer benchmark (columns: ae, pyod-AutoEncoder, pyod-PCA, pyod-IForest)
    *[
        Figure(f"anomaly {who} {half}", R, quote, "benchmarks/results/anomaly.md", rf"\| mean, {sets} \| \| {cols} \|")
        for half, sets in (("development", r"15 development sets"), ("benchmark", r"9 benchmark sets"))
        for who, quote, cols in (
            (
                "ours",
                r"mean ROC-AUC \*\*([\d.]+)\*\* \(development\) /\s+\*\*([\d.]+)\*\*",
                r"([\d.]+) \| [\d.]+ \| [\d.]+ \| [\d.]+",
            ),
            ("IForest", r"vs ([\d.]+) / ([\d.]+) IForest", r"[\d.]+ \| [\d.]+ \| [\d.]+ \| ([\d.]+)"),
            ("AutoEncoder", r"([\d.]+) / ([\d.]+) PyOD\s+AutoEncoder", r"[\d.]+ \| ([\d.]+) \| [\d.]+ \| [\d.]+"),
            ("PCA", r"([\d.]+) / ([\d.]+) PCA, measured", r"[\d.]+ \| [\d.]+ \| ([\d.]+) \| [\d.]+"),
        )
    ],
    # Spark
    Figure(
        "Spark per core",
        R,
        r"runs within ([\d.]+)x of the single-process runtime",
        "benchmarks/results/spark.md",
        r"single-process `aeruntime score` is \*\*([\d.]+)x\*\*",
        rounded(1),
    ),
    Figure(
        "Spark all columns",
        R,
        r"pays (\+\d+%) over Spark's own read\+write",
        "benchmarks/results/spark.md",
        r"adds \*\*(\+\d+%)\*\* to Spark's read\+write",
    ),
    Figure(
        "Spark boundary",
        R,
        r"most of it \((\+\d+%)\) Spark's Python/Arrow",
        "benchmarks/results/spark.md",
        r"an identity `mapInArrow`\) alone adds (\+\d+%)",
    ),
    # what the README asks for
    Figure(
        "Python version", R, r"Fresh machine, Python (3\.\d+)\+", "pyproject.toml", r'requires-python = ">=(3\.\d+)"'
    ),
    Figure(
        "Python version (runtime)",
        R,
        r"Fresh machine, Python (3\.\d+)\+",
        "runtime/pyproject.toml",
        r'requires-python = ">=(3\.\d+)"',
    ),
    Figure(
        "cache size",
        R,
        r"the Debian 13 root of the C consumer tests \(about (\d+) MB",
        "benchmarks/results/c_tests.md",
        r"Debian 13 root: (\d+) MB",
    ),
    Figure(
        "cache size (venv)",
        R,
        r"onnxruntime 1\.15 venv \(about (\d+) MB",
        "benchmarks/results/c_tests.md",
        r"onnxruntime-1\.15\.1 venv: (\d+) MB",
    ),
    # the decisions' cost (issue 34): the first table of decisions.md section 1 is digits-dense's
    Figure(
        "decisions batch 1",
        R,
        r"on digits-dense \+([\d.]+)% at batch 1",
        "benchmarks/results/decisions.md",
        r"\| 1 \| decisions, n=1023 \| [\d.]+ µs \| \+([\d.]+)% \|",
    ),
    Figure(
        "decisions batch 65,536",
        R,
        r"at batch 1 and \+([\d.]+)% at 65,536 rows",
        "benchmarks/results/decisions.md",
        r"\| 65,536 \| decisions, n=1023 \| [\d.]+ ms \| \+([\d.]+)% \|",
    ),
    Figure(
        "decisions digits-conv",
        R,
        r"on digits-conv \+([\d.]+)% at\s+65,536 rows",
        "benchmarks/results/decisions.md",
        r"bundle `models/digits-conv`[\s\S]*?\| 65,536 \| decisions, n=1023 \| [\d.]+ ms \| \+([\d.]+)% \|",
    ),
    # docs/edge.md
    Figure(
        "C tests",
        "docs/edge.md",
        r"`python -m pytest -q tests/e2e/c`: (\d+) tests",
        "benchmarks/results/c_tests.md",
        r"\*\*(\d+) passed\*\*",
    ),
    Figure(
        "C tests time",
        "docs/edge.md",
        r"tests/e2e/c`: \d+ tests, (\d+) s",
        "benchmarks/results/c_tests.md",
        r"\*\*\d+ passed\*\* in (\d+) s",
    ),
]

_SEARCHED: dict[str, str] = {}


def _text(rel: str) -> str:
    if rel not in _SEARCHED:
        _SEARCHED[rel] = (ROOT / rel).read_text(encoding="utf-8")
    return _SEARCHED[rel]


def quoted(fig: Figure) -> tuple[str, ...]:
    m = re.search(fig.quote, _text(fig.doc))
    assert m, f"{fig.doc}: the quote of {fig.name!r} ({fig.quote}) is not there; update FIGURES with the text"
    return m.groups()


def recorded(fig: Figure) -> tuple[str, ...]:
    m = re.search(fig.recorded, _text(fig.source))
    assert m, f"{fig.source}: no recorded value for {fig.name!r} ({fig.recorded})"
    return tuple(fig.form(g) for g in m.groups())


@pytest.mark.parametrize("fig", FIGURES, ids=[f.name for f in FIGURES])
def test_quoted_figure_is_the_recorded_one(fig):
    doc, rec = quoted(fig), recorded(fig)
    if len(doc) == 2 and len(rec) == 1:  # "a / b" quotes: one figure per half (development, benchmark)
        doc = (doc[0],) if "development" in fig.name else (doc[1],)
    assert doc == rec, f"{fig.doc} quotes {fig.name} as {doc}, but {fig.source} records {rec}"


def test_a_changed_number_is_caught(monkeypatch):
    """The check is real: the README with one figure edited no longer agrees with its record."""
    fig = next(f for f in FIGURES if f.name == "PSNR denoised")
    text = _text(R)
    (value,) = quoted(fig)
    edited = re.sub(fig.quote.replace("([\\d.]+)", re.escape(value)), lambda m: m.group(0).replace(value, "99.9"), text)
    assert edited != text
    monkeypatch.setitem(_SEARCHED, R, edited)
    assert quoted(fig) != recorded(fig)
