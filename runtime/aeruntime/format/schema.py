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
  ``prod(latent.shape)`` numbers (:mod:`aeruntime.latent_codes`).
- ``omitted`` (optional, slim bundles): list of the relative paths left out.
- ``min_onnxruntime`` (optional; bundles exported before it was added lack it): the
  oldest onnxruntime release that loads every graph, ``"MAJOR.MINOR"``
  (:mod:`aeruntime.format.compat`), also in every graph's ``aeexport.min_onnxruntime``.
- ``series`` (optional, series bundles): :mod:`aeruntime.format.series`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from ..errors import ManifestError
from .constants import CORE_ROLES, MAX_RANK, MAX_ROW_ELEMENTS
from .scores import threshold_problem
from .series import row_names_count, validate_series

__all__ = ["check_relpath", "validate_manifest"]

_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_BUNDLE_ID = re.compile(r"[0-9A-Za-z_-]{1,128}\Z")
_RELEASE = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}\+?\Z")
_ROLE = re.compile(r"[a-z][a-z0-9_]{0,63}\Z")
#: a rule checks one field: rule(value, JSON path, whole manifest); it raises ManifestError
_Rule = Callable[[Any, str, dict[str, Any]], None]
#: when a rule applies: when(manifest, the field's parent object, its key)
_When = Callable[[dict[str, Any], dict[str, Any], str], bool]

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


def _plain(check: Callable[[Any, str], Any]) -> _Rule:
    """A rule that needs only the value and its path."""
    return lambda value, where, m: check(value, where)


def _const(want: str) -> _Rule:
    def check(value: Any, where: str, m: dict[str, Any]) -> None:
        if value != want:
            raise _fail(where, repr(want), value)

    return check


def _bundle_id(value: Any, where: str, m: dict[str, Any]) -> None:
    if not isinstance(value, str) or not _BUNDLE_ID.match(value):
        raise _fail(where, "1-128 characters from [0-9A-Za-z_-]", value)


def _sha256(value: Any, where: str) -> None:
    if not isinstance(value, str) or not _HEX64.match(value):
        raise _fail(where, "a sha256 of 64 lowercase hex digits", value)


def _files(value: Any, where: str, m: dict[str, Any]) -> None:
    if not _obj(value, where):
        raise _fail(where, "a non-empty object of path -> sha256", value)
    for rel, digest in value.items():
        check_relpath(rel, f"files key {rel!r}")
        _sha256(digest, f"files[{rel!r}]")


def _graph(role: Any, g: Any, files: dict[str, Any]) -> None:
    where = f"graphs.{role}"
    if not _ROLE.match(role):
        raise _fail(f"graphs key {role!r}", "a role name such as 'encoder'", role)
    g = _obj(g, where)
    rel = check_relpath(_get(g, "file", where), f"{where}.file")
    if not rel.endswith((".onnx", ".ort")):  # .ort: onnxruntime's ORT format (edge variants)
        raise _fail(f"{where}.file", "a path ending in .onnx or .ort", rel)
    if rel not in files:
        raise ManifestError(
            f"manifest.json: {where}.file {rel!r} is not listed in files, so its integrity cannot be checked; {_FIX}"
        )
    _names(_get(g, "inputs", where), f"{where}.inputs")
    _names(_get(g, "outputs", where), f"{where}.outputs")
    if role in CORE_ROLES or "graph_sha256" in g:
        _sha256(_get(g, "graph_sha256", where), f"{where}.graph_sha256")


def _graphs(value: Any, where: str, m: dict[str, Any]) -> None:
    graphs = _obj(value, where)
    for role in ("encoder", "decoder"):
        if role not in graphs:
            raise ManifestError(
                f"manifest.json: graphs has no {role!r} entry (roles: {sorted(graphs)}); every bundle needs "
                f"encoder and decoder graphs; {_FIX}"
            )
    for role, g in graphs.items():
        _graph(role, g, m["files"])


def _threshold(value: Any, where: str, m: dict[str, Any]) -> None:
    value = _number(value, where)
    why = threshold_problem(value, m["score"]["name"])
    if why:
        raise ManifestError(f"manifest.json: {where} {value!r} {why}; {_FIX}")


def _numbers(shape_of: str, per_element: str = "") -> _Rule:
    """A list of ``prod(m[shape_of]["shape"])`` finite numbers."""

    def check(values: Any, where: str, m: dict[str, Any]) -> None:
        n = math.prod(m[shape_of]["shape"])
        if not isinstance(values, list) or len(values) != n:
            raise _fail(where, f"a list of {n} numbers{per_element}", values)
        for i, v in enumerate(values):
            _number(v, f"{where}[{i}]")

    return check


def _scale(values: Any, where: str, m: dict[str, Any]) -> None:
    _numbers("input", _PER_INPUT)(values, where, m)
    for i, v in enumerate(values):
        if v <= 0:
            raise _fail(f"{where}[{i}]", "a positive number", v)


def _feature_names(names: Any, where: str, m: dict[str, Any]) -> None:
    n = row_names_count(m, math.prod(m["input"]["shape"]))  # a series bundle names its C columns
    _names(names, where)
    if len(names) != n or len(set(names)) != n:
        raise _fail(where, f"a list of {n} distinct names (one per input element)", names)


def _omitted(value: Any, where: str, m: dict[str, Any]) -> None:
    if not isinstance(value, list):
        raise _fail(where, "a list of relative paths", value)
    for i, rel in enumerate(value):
        check_relpath(rel.rstrip("/") if isinstance(rel, str) else rel, f"{where}[{i}]")


def _boolean(value: Any, where: str) -> None:
    if not isinstance(value, bool):
        raise _fail(where, "a boolean", value)


def _release(value: Any, where: str) -> None:
    if not isinstance(value, str) or not _RELEASE.match(value):
        raise _fail(where, "an onnxruntime release 'MAJOR.MINOR' such as '1.18'", value)


# When a rule applies (_When)
def _required(m: dict[str, Any], parent: dict[str, Any], key: str) -> bool:
    return True


def _present(m: dict[str, Any], parent: dict[str, Any], key: str) -> bool:
    return key in parent


def _not_null(m: dict[str, Any], parent: dict[str, Any], key: str) -> bool:
    return parent.get(key) is not None


def _scaler_needed(m: dict[str, Any], parent: dict[str, Any], key: str) -> bool:
    return key in parent or "scorer" not in m["graphs"]


_OBJ, _STR, _SHAPE = _plain(_obj), _plain(_str), _plain(_shape)
_PER_INPUT = " (one per input element)"

#: The schema as data: (JSON path, rule, when it applies), checked in this order. A rule
#: gets the value, its path and the whole manifest; a required field that is missing is
#: reported by the loop. Fields below an optional object that is absent are skipped.
_RULES: tuple[tuple[str, _Rule, _When], ...] = (
    ("bundle_id", _bundle_id, _required),
    ("model", _OBJ, _required),
    ("model.kind", _STR, _required),
    ("model.config", _OBJ, _present),
    ("input", _OBJ, _required),
    ("input.name", _STR, _required),
    ("input.shape", _SHAPE, _required),
    ("input.dtype", _const("float32"), _required),
    ("latent", _OBJ, _required),
    ("latent.name", _STR, _required),
    ("latent.shape", _SHAPE, _required),
    ("files", _files, _required),
    ("graphs", _graphs, _required),
    ("score", _OBJ, _required),
    ("score.name", _STR, _required),
    ("score.direction", _const("higher_is_more_anomalous"), _required),
    ("threshold", _OBJ, _required),
    ("threshold.value", _threshold, _required),
    ("threshold.method", _STR, _required),
    ("scaler", _OBJ, _scaler_needed),
    ("scaler.mean", _numbers("input", _PER_INPUT), _required),
    ("scaler.scale", _scale, _required),
    ("weights", _plain(check_relpath), _present),
    # added after format version 1 was first written: optional, typed when present
    ("input.feature_names", _feature_names, _not_null),
    ("latent.quantization", _OBJ, _not_null),
    ("latent.quantization.int8", _OBJ, _not_null),
    ("latent.quantization.int8.scale", _numbers("latent"), _required),
    ("latent.quantization.int8.zero_point", _numbers("latent"), _required),
    ("omitted", _omitted, _present),
    ("parity", _OBJ, _present),
    ("parity.ok", _plain(_boolean), _present),
    ("min_onnxruntime", _plain(_release), _present),
)


def _parent(m: dict[str, Any], keys: list[str]) -> dict[str, Any] | None:
    """The object at ``keys`` below ``m``; None where an optional object on the way is absent."""
    node: Any = m
    for key in keys:
        node = node.get(key)
        if not isinstance(node, dict):
            return None
    return node


def validate_manifest(m: dict[str, Any]) -> None:
    """Check a parsed manifest against the schema above (the table ``_RULES``); raise :class:`ManifestError`.

    ``format_version`` is checked by the caller (it decides between
    :class:`~aeruntime.errors.UnsupportedFormatError` and this schema).
    """
    for path, rule, applies in _RULES:
        *up, key = path.split(".")
        parent = _parent(m, up)
        if parent is not None and applies(m, parent, key):
            rule(_get(parent, key, ".".join(up)), path, m)
    validate_series(m)  # series bundles (aeruntime.format.series)
