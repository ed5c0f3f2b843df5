"""The manifest schema, checked before any field is used.

A small hand-written validator (no ``jsonschema`` dependency): every rule names the
field by its JSON path (``graphs.encoder.file``), what it must be and what it is,
and raises :class:`~aeruntime.errors.ManifestError`. Unknown extra fields are
allowed, so later aeexport versions may add information without a format bump;
fields this runtime reads are required and typed.

Rules (format version 1)
------------------------
- ``bundle_id``: 1-128 characters from ``[0-9A-Za-z_-]``.
- ``model.kind``: non-empty string; ``model.config`` (optional): object.
- ``input`` / ``latent``: ``name`` non-empty string; ``shape`` a list of 1 to
  :data:`MAX_RANK` positive integers whose product is at most
  :data:`MAX_ROW_ELEMENTS`; ``input.dtype`` is ``"float32"``.
- ``graphs``: role -> ``{file, inputs, outputs, graph_sha256}``; roles
  ``encoder`` and ``decoder`` are required, ``scorer`` optional, other roles
  allowed. ``file`` is a relative path inside the bundle ending in ``.onnx``
  (or ``.ort``, onnxruntime's ORT format, which ORT-format variants from
  ``aeexport optimize --ort-format`` use), listed in ``files``; ``inputs``/``outputs`` non-empty lists of names;
  ``graph_sha256`` 64 hex digits (required for the three core roles).
- ``score``: ``name`` non-empty string, ``direction`` ``"higher_is_more_anomalous"``.
- ``threshold``: ``value`` a finite number, and ``>= 0`` when the score is
  non-negative by definition (:mod:`aeruntime.format.scores`; a negative threshold
  would label every row an anomaly); ``method`` a string.
- ``files``: relative path -> sha256 (64 lowercase hex digits), at least one.
- ``scaler`` (required when there is no scorer graph): ``mean`` and ``scale``
  lists of ``prod(input.shape)`` finite numbers, ``scale > 0``.
- ``weights`` (optional): relative path; ``parity.ok`` (optional): boolean.
- ``input.feature_names`` (optional): ``prod(input.shape)`` distinct non-empty strings.
- ``latent.quantization.int8`` (optional): ``scale`` and ``zero_point`` lists of
  ``prod(latent.shape)`` numbers (:mod:`aeruntime.codes`).
- ``omitted`` (optional, slim bundles): list of the relative paths left out.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..errors import ManifestError
from .constants import CORE_ROLES, MAX_RANK, MAX_ROW_ELEMENTS
from .scores import threshold_problem

__all__ = ["check_relpath", "validate_manifest"]

_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_BUNDLE_ID = re.compile(r"[0-9A-Za-z_-]{1,128}\Z")
_ROLE = re.compile(r"[a-z][a-z0-9_]{0,63}\Z")
_FIX = "the manifest is damaged or was edited by hand; re-export the bundle with `aeexport export`."


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _fail(where: str, expected: str, value: Any) -> ManifestError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ManifestError(f"manifest.json: {where} must be {expected}, got {shown} ({_type_name(value)}); {_FIX}")


def _obj(m: Any, where: str) -> dict[str, Any]:
    if not isinstance(m, dict):
        raise _fail(where, "an object", m)
    return m


def _get(m: dict[str, Any], key: str, where: str) -> Any:
    if key not in m:
        name = f"{where}.{key}" if where else key
        raise ManifestError(f"manifest.json: required field {name} is missing; {_FIX}")
    return m[key]


def _str(value: Any, where: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value):
        raise _fail(where, "a non-empty string" if not empty else "a string", value)
    return value


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(where, "a finite number", value)
    return float(value)


def _names(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise _fail(where, "a non-empty list of names", value)
    for i, v in enumerate(value):
        _str(v, f"{where}[{i}]")
    return value


def _shape(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_RANK:
        raise _fail(where, f"a list of 1 to {MAX_RANK} positive integers", value)
    for i, d in enumerate(value):
        if not _int(d) or d < 1:
            raise _fail(f"{where}[{i}]", "a positive integer", d)
    if math.prod(value) > MAX_ROW_ELEMENTS:
        raise _fail(where, f"a shape with at most {MAX_ROW_ELEMENTS} elements per row", value)
    return tuple(value)


def check_relpath(value: Any, where: str) -> str:
    """A relative POSIX path that stays inside the bundle: no ``..``, no absolute path."""
    _str(value, where)
    parts = value.split("/")
    if (
        value.startswith("/")
        or "\\" in value
        or "\x00" in value
        or re.match(r"[A-Za-z]:", value)
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise _fail(where, "a relative path inside the bundle (no '..', no absolute path, '/' separators)", value)
    return value


def validate_manifest(m: dict[str, Any]) -> None:
    """Check a parsed manifest against the schema above; raise :class:`ManifestError`.

    ``format_version`` is checked by the caller (it decides between
    :class:`~aeruntime.errors.UnsupportedFormatError` and this schema).
    """
    bundle_id = _get(m, "bundle_id", "")
    if not isinstance(bundle_id, str) or not _BUNDLE_ID.match(bundle_id):
        raise _fail("bundle_id", "1-128 characters from [0-9A-Za-z_-]", bundle_id)

    model = _obj(_get(m, "model", ""), "model")
    _str(_get(model, "kind", "model"), "model.kind")
    if "config" in model:
        _obj(model["config"], "model.config")

    inp = _obj(_get(m, "input", ""), "input")
    _str(_get(inp, "name", "input"), "input.name")
    in_shape = _shape(_get(inp, "shape", "input"), "input.shape")
    if _get(inp, "dtype", "input") != "float32":
        raise _fail("input.dtype", "'float32'", inp["dtype"])
    lat = _obj(_get(m, "latent", ""), "latent")
    _str(_get(lat, "name", "latent"), "latent.name")
    _shape(_get(lat, "shape", "latent"), "latent.shape")

    files = _obj(_get(m, "files", ""), "files")
    if not files:
        raise _fail("files", "a non-empty object of path -> sha256", files)
    for rel, digest in files.items():
        check_relpath(rel, f"files key {rel!r}")
        if not isinstance(digest, str) or not _HEX64.match(digest):
            raise _fail(f"files[{rel!r}]", "a sha256 of 64 lowercase hex digits", digest)

    graphs = _obj(_get(m, "graphs", ""), "graphs")
    for role in ("encoder", "decoder"):
        if role not in graphs:
            raise ManifestError(
                f"manifest.json: graphs has no {role!r} entry (roles: {sorted(graphs)}); every bundle needs "
                f"encoder and decoder graphs; {_FIX}"
            )
    for role, g in graphs.items():
        where = f"graphs.{role}"
        if not _ROLE.match(role):
            raise _fail(f"graphs key {role!r}", "a role name such as 'encoder'", role)
        g = _obj(g, where)
        rel = check_relpath(_get(g, "file", where), f"{where}.file")
        if not rel.endswith((".onnx", ".ort")):  # .ort: onnxruntime's ORT format (edge variants)
            raise _fail(f"{where}.file", "a path ending in .onnx or .ort", rel)
        if rel not in files:
            raise ManifestError(
                f"manifest.json: {where}.file {rel!r} is not listed in files, so its integrity cannot be "
                f"checked; {_FIX}"
            )
        _names(_get(g, "inputs", where), f"{where}.inputs")
        _names(_get(g, "outputs", where), f"{where}.outputs")
        if role in CORE_ROLES or "graph_sha256" in g:
            digest = _get(g, "graph_sha256", where)
            if not isinstance(digest, str) or not _HEX64.match(digest):
                raise _fail(f"{where}.graph_sha256", "a sha256 of 64 lowercase hex digits", digest)

    score = _obj(_get(m, "score", ""), "score")
    score_name = _str(_get(score, "name", "score"), "score.name")
    if _get(score, "direction", "score") != "higher_is_more_anomalous":
        raise _fail("score.direction", "'higher_is_more_anomalous'", score["direction"])

    thr = _obj(_get(m, "threshold", ""), "threshold")
    value = _number(_get(thr, "value", "threshold"), "threshold.value")
    why = threshold_problem(value, score_name)
    if why:
        raise ManifestError(f"manifest.json: threshold.value {value!r} {why}; {_FIX}")
    _str(_get(thr, "method", "threshold"), "threshold.method")

    if "scaler" in m or "scorer" not in graphs:
        scaler = _obj(_get(m, "scaler", ""), "scaler")
        n = math.prod(in_shape)
        for key in ("mean", "scale"):
            values = _get(scaler, key, "scaler")
            if not isinstance(values, list) or len(values) != n:
                raise _fail(f"scaler.{key}", f"a list of {n} numbers (one per input element)", values)
            for i, v in enumerate(values):
                _number(v, f"scaler.{key}[{i}]")
        if any(v <= 0 for v in scaler["scale"]):
            i = next(i for i, v in enumerate(scaler["scale"]) if v <= 0)
            raise _fail(f"scaler.scale[{i}]", "a positive number", scaler["scale"][i])

    if "weights" in m:
        check_relpath(m["weights"], "weights")
    _check_optional(m, in_shape)
    if "parity" in m:
        parity = _obj(m["parity"], "parity")
        if "ok" in parity and not isinstance(parity["ok"], bool):
            raise _fail("parity.ok", "a boolean", parity["ok"])


def _check_optional(m: dict[str, Any], in_shape: tuple[int, ...]) -> None:
    """Fields added after format version 1 was first written: optional, typed when present."""
    names = m["input"].get("feature_names")
    if names is not None:
        n = math.prod(in_shape)
        _names(names, "input.feature_names")
        if len(names) != n or len(set(names)) != n:
            raise _fail("input.feature_names", f"a list of {n} distinct names (one per input element)", names)
    quant = m["latent"].get("quantization")
    if quant is not None:
        int8 = _obj(quant, "latent.quantization").get("int8")
        if int8 is not None:
            n = math.prod(m["latent"]["shape"])
            for key in ("scale", "zero_point"):
                values = _get(_obj(int8, "latent.quantization.int8"), key, "latent.quantization.int8")
                if not isinstance(values, list) or len(values) != n:
                    raise _fail(f"latent.quantization.int8.{key}", f"a list of {n} numbers", values)
                for i, v in enumerate(values):
                    _number(v, f"latent.quantization.int8.{key}[{i}]")
    if "omitted" in m:
        omitted = m["omitted"]
        if not isinstance(omitted, list):
            raise _fail("omitted", "a list of relative paths", omitted)
        for i, rel in enumerate(omitted):
            check_relpath(rel.rstrip("/") if isinstance(rel, str) else rel, f"omitted[{i}]")
