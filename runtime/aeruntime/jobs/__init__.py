"""Streaming jobs over files: score, encode, decode, reconstruct.

Each job reads its input in chunks of ``batch_size`` rows (:func:`aeruntime.tables.open_source`),
runs the model on each chunk and writes the result as it goes (:func:`aeruntime.tables.sinks.open_sink`),
so memory stays flat however large the input is; the output is published atomically
at the end. A job is a :class:`JobSpec` in :data:`JOBS` (what it reads, what it writes,
what it computes); :func:`run_job` is the one loop they share.

- ``score``: rows -> ``score`` (float32, higher = more anomalous) and ``label`` (int8, 1 = anomaly);
- ``encode``: rows -> latent codes ``z`` (n, *latent_shape) as float32, float16 or int8
  (per-dimension affine int8, parameters from ``manifest["latent"]["quantization"]["int8"]``);
- ``decode``: codes (any of those dtypes; detected from ``.npy``/``.parquet``) -> rows ``X``;
- ``reconstruct``: rows -> ``decode(encode(rows))``.

Tables (CSV, Parquet) are matched to the bundle's feature names when it has them;
``id_columns`` are passed through to table outputs.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import decisions
from ..errors import InvalidInputError
from ..latent_codes import CODE_DTYPES, dequantize_int8, quantize_int8
from ..tables import open_source
from ..tables.sinks import SCORE_FIELDS, Field, check_output_path, open_sink

__all__ = ["JOBS", "JobResult", "JobSpec", "code_columns", "int8_params", "progress", "run_job"]

_NP_CODES = {"float32": "<f4", "float16": "<f2", "int8": "i1"}


def code_columns(model: Any) -> list[str]:
    """Table column names of latent codes: ``z0 .. z{d-1}``."""
    return [f"z{i}" for i in range(math.prod(model.latent_shape))]


def int8_params(model: Any) -> dict[str, Any]:
    """``manifest["latent"]["quantization"]["int8"]``, or a typed error telling to re-export."""
    params = ((model.manifest.get("latent") or {}).get("quantization") or {}).get("int8")
    if not isinstance(params, dict):
        raise InvalidInputError(
            f"bundle {str(model.path)!r} has no int8 code parameters (manifest latent.quantization.int8); "
            "it was exported before int8 codes existed. Re-export it with the current aeexport, or use "
            "--codes float32 / float16."
        )
    return params


@dataclass
class JobResult:
    """What a job did."""

    rows: int  # rows written
    anomalies: int | None  # score: rows labelled 1; other jobs: None
    ignored: list[str]  # input table columns not used
    by_name: bool  # input columns matched by the bundle's feature names
    threshold: float | None = None  # score: the threshold used
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobSpec:
    """One streaming job."""

    name: str  # CLI command name
    verb: str  # progress bar label
    reads: str  # "rows" (input_shape) or "codes" (latent_shape)
    fields: Callable[[Any, dict[str, Any]], Sequence[Field]]  # (model, options) -> output fields
    compute: Callable[[Any, np.ndarray, dict[str, Any]], tuple[np.ndarray, ...]]  # one array per field


# ---------------------------------------------------------------------------- the jobs
#: ``aeruntime score`` output of a decision scorer: the conformal p-value after score and label
DECISION_FIELDS = (*SCORE_FIELDS, Field("p_value", "<f4"))


def _score_fields(model: Any, opts: dict[str, Any]) -> Sequence[Field]:
    """score, label (and p_value for a decision scorer); ``fpr``/``fdr`` checked before any work."""
    what = decisions.check_operating_point(opts.get("fpr"), opts.get("fdr"))
    if what is not None:
        decisions.require_decisions(model.calibration_size, f"--{what}")
    return SCORE_FIELDS if model.calibration_size is None else DECISION_FIELDS


def _score_compute(model: Any, x: np.ndarray, opts: dict[str, Any]) -> tuple[np.ndarray, ...]:
    if model.calibration_size is None:
        s = model.score(x)
        return s, (s > model.threshold).astype(np.int8)
    s, label, p = model.decide(x)  # --fdr: Benjamini-Hochberg over this chunk of --batch-size rows
    return s, decisions.choose_labels(label, p, model.calibration_size, opts.get("fpr"), opts.get("fdr")), p


def _encode_fields(model: Any, opts: dict[str, Any]) -> Sequence[Field]:
    codes = opts.get("codes") or "float32"
    if codes not in CODE_DTYPES:
        raise InvalidInputError(f"--codes {codes!r}: expected one of {', '.join(CODE_DTYPES)}.")
    if codes == "int8":
        int8_params(model)  # fail before any work
    return (Field("z", _NP_CODES[codes], tuple(model.latent_shape), tuple(code_columns(model))),)


def _encode_compute(model: Any, x: np.ndarray, opts: dict[str, Any]) -> tuple[np.ndarray, ...]:
    z = model.encode(x)
    codes = opts.get("codes") or "float32"
    if codes == "int8":
        return (quantize_int8(z, int8_params(model)),)
    return (z.astype(_NP_CODES[codes]),)


def _rows_fields(model: Any, opts: dict[str, Any]) -> Sequence[Field]:
    names = model.feature_names
    return (Field("X", "<f4", tuple(model.input_shape), tuple(names) if names else None),)


def _decode_compute(model: Any, z: np.ndarray, opts: dict[str, Any]) -> tuple[np.ndarray, ...]:
    return (model.decode(_codes_as_float(model, z, opts.get("codes") or "auto")),)


def _reconstruct_compute(model: Any, x: np.ndarray, opts: dict[str, Any]) -> tuple[np.ndarray, ...]:
    return (model.reconstruct(x),)


def _codes_as_float(model: Any, z: np.ndarray, codes: str) -> np.ndarray:
    """Codes of any precision -> float32 codes: int8 dequantised by the bundle's parameters."""
    if codes == "auto":
        codes = "int8" if z.dtype == np.int8 else "float32"
    if codes == "int8":
        if z.dtype != np.int8:
            zf = np.asarray(z, dtype=np.float64)
            if not (np.all(zf == np.round(zf)) and zf.min(initial=0) >= -128 and zf.max(initial=0) <= 127):
                raise InvalidInputError(
                    f"--codes int8: the codes hold values that are not integers in [-128, 127] (dtype {z.dtype}); "
                    "pass the file `aeruntime encode --codes int8` wrote, or drop --codes int8 for float codes."
                )
            z = zf.astype(np.int8)
        return dequantize_int8(z, int8_params(model))
    if z.dtype == np.int8:
        raise InvalidInputError(
            f"the codes have dtype int8, but --codes {codes} was given; pass --codes int8 (or auto) to dequantise them."
        )
    return np.asarray(z, dtype=np.float32)


JOBS: dict[str, JobSpec] = {
    "score": JobSpec("score", "scoring", "rows", _score_fields, _score_compute),
    "encode": JobSpec("encode", "encoding", "rows", _encode_fields, _encode_compute),
    "decode": JobSpec("decode", "decoding", "codes", _rows_fields, _decode_compute),
    "reconstruct": JobSpec("reconstruct", "reconstructing", "rows", _rows_fields, _reconstruct_compute),
}


# ---------------------------------------------------------------------------- the loop
@contextlib.contextmanager
def progress(total: int, unit: str, label: str = "scoring") -> Iterator[Any]:
    """A click progress bar on stderr when it is a terminal; a no-op object otherwise."""
    if not sys.stderr.isatty():

        class _Null:
            def update(self, n: int) -> None:
                pass

        yield _Null()
        return
    import click

    with click.progressbar(
        length=max(total, 1), label=f"{label} ({unit})", file=sys.stderr, show_pos=unit == "rows"
    ) as bar:
        yield bar


def _open_input(
    job: JobSpec,
    model: Any,
    input: Any,
    batch_size: int,
    label_column: str | None,
    id_columns: Sequence[str],
    header: bool | None = None,
) -> Any:
    if job.reads == "rows":
        return open_source(
            input,
            batch_size,
            label_column=label_column,
            row_shape=tuple(model.input_shape),
            feature_names=model.feature_names,
            id_columns=id_columns,
            read_labels=False,
            header=header,
        )
    # codes: tables written by `encode` name them z0..; other tables are read positionally
    names = code_columns(model)
    probe = open_source(
        input,
        1,
        label_column=label_column,
        id_columns=id_columns,
        dtype=None,
        finite=False,
        npz_key=("z", "X"),
        read_labels=False,
        header=header,
    )
    by_name = probe.columns is not None and all(n in probe.columns for n in names)
    return open_source(
        input,
        batch_size,
        label_column=label_column,
        row_shape=tuple(model.latent_shape),
        feature_names=names if by_name else None,
        id_columns=id_columns,
        dtype=None,
        npz_key=("z", "X"),
        read_labels=False,
        header=header,
    )


def run_job(
    name: str,
    model: Any,
    input: Any,
    out: Any,
    *,
    batch_size: int = 65536,
    label_column: str | None = None,
    id_columns: Sequence[str] = (),
    show_progress: bool = True,
    stdout: Any = None,
    header: bool | None = None,
    **options: Any,
) -> JobResult:
    """Stream ``input`` through job ``name`` of :data:`JOBS` into ``out`` (None: CSV on stdout).

    Parameters
    ----------
    name : str
        "score", "encode", "decode" or "reconstruct".
    model : aeruntime.Model
    input, out : path-like
        ``.npy``, ``.npz``, ``.csv``, ``.parquet``; ``out=None`` writes CSV to ``stdout``.
    batch_size : int
        Rows read, computed and written per step: peak memory follows it.
    label_column : str, optional
        Tables: a label column to skip.
    id_columns : sequence of str
        Tables: columns copied to the output (which must then be a table).
    header : bool or None
        CSV input: the first line is a header (True) or data (False); None decides
        (:mod:`aeruntime.tables.header`).
    **options
        ``codes``: encode ``float32|float16|int8``; decode ``auto|float32|float16|int8``.

    Returns
    -------
    JobResult
    """
    job = JOBS[name]
    check_output_path(out, list(id_columns), inputs=[input])  # fail before any work is done
    fields = job.fields(model, options)
    source = _open_input(job, model, input, batch_size, label_column, id_columns, header)
    with (
        open_sink(out, fields, ids=source.id_types, stdout=stdout) as sink,
        progress(source.total if show_progress else 0, source.unit, job.verb) as bar,
    ):
        anomalies = _stream(job, model, input, source, sink, bar, options)
    score = name == "score"
    return JobResult(
        sink.rows, anomalies if score else None, source.ignored, source.by_name, model.threshold if score else None
    )


def _stream(job: JobSpec, model: Any, input: Any, source: Any, sink: Any, bar: Any, options: dict[str, Any]) -> int:
    """Every chunk of ``source`` through ``job`` into ``sink``; returns the rows labelled 1 (score)."""
    anomalies = 0
    for chunk in source:
        if len(chunk):
            try:
                arrays = job.compute(model, chunk.x, options)
            except InvalidInputError as exc:  # say where in the file the bad chunk starts
                raise InvalidInputError(f"{input}, rows from {chunk.start}: {exc}") from None
            sink.write(*arrays, ids=chunk.ids)
            if job.name == "score":
                anomalies += int(arrays[1].sum())
        bar.update(chunk.progress)
    if sink.rows == 0:
        shape = model.input_shape if job.reads == "rows" else model.latent_shape
        raise InvalidInputError(
            f"{input}: the file holds 0 rows of data; expected at least one row of shape {tuple(shape)}."
        )
    return anomalies
