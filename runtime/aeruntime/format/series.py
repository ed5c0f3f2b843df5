"""The ``series`` section of a series bundle's manifest (docs/bundle-format.md, "Series bundles").

A series bundle scores windows of a time series: its graphs take ``(batch, W, C)``, the
manifest's ``input.shape`` is ``[W, C]`` and ``series`` says how a per-step score is formed::

    "series": {"window": W, "stride": 1, "time_column": null, "step_score": "window_end",
               "warmup": {"score": null, "label": 0},
               "alarm": {"k": 1, "n": 1, "hold_off": 0}}

Rules (each a :class:`~aeruntime.errors.ManifestError` naming the field):

- ``window``: an integer >= 1 equal to ``input.shape[0]``; ``input.shape`` has rank 2;
- ``stride``: an integer >= 1 (the training stride; scoring scores every step);
- ``time_column``: null or a non-empty string that is not one of ``input.feature_names``;
- ``step_score``: ``"window_end"`` (the score of step t is the score of the window ending at t);
- ``warmup``: exactly ``{"score": null, "label": 0}`` (the first W-1 steps: no score, label 0);
- ``alarm``: ``k``, ``n``, ``hold_off`` integers with ``1 <= k <= n`` and ``hold_off >= 0``;
- a ``scorer`` graph is required (the scaler lives in the graphs);
- ``input.feature_names``, when present, names the C columns of one step (not W * C).
"""

from __future__ import annotations

from typing import Any

from ..errors import ManifestError

__all__ = ["STEP_SCORES", "is_series", "row_names_count", "validate_series"]

#: the per-step score rules a runtime knows: the window ending at step t
STEP_SCORES = ("window_end",)
WARMUP = {"score": None, "label": 0}
_FIX = "the manifest is damaged or was edited by hand; re-export the bundle with `aeexport export`."


def is_series(m: dict[str, Any]) -> bool:
    """True for a series bundle (its manifest has a ``series`` section)."""
    return m.get("series") is not None


def row_names_count(m: dict[str, Any], elements: int) -> int:
    """How many ``input.feature_names`` a manifest carries: C for a series bundle, else ``elements``."""
    shape = m.get("input", {}).get("shape")
    if is_series(m) and isinstance(shape, list) and shape:
        return shape[-1]
    return elements


def _bad(where: str, expected: str, value: Any) -> ManifestError:
    return ManifestError(f"manifest.json: series.{where} must be {expected}, got {value!r}; {_FIX}")


def _count(s: dict[str, Any], key: str, low: int, where: str = "") -> int:
    value = s.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise _bad(where + key, f"an integer >= {low}", value)
    return value


def validate_series(m: dict[str, Any]) -> None:
    """Check ``m["series"]`` (absent or null: a row bundle, nothing to check); raise :class:`ManifestError`."""
    if not is_series(m):
        return
    s = m["series"]
    if not isinstance(s, dict):
        raise ManifestError(f"manifest.json: series must be an object, got {s!r}; {_FIX}")
    shape = m["input"]["shape"]
    window = _count(s, "window", 1)
    if len(shape) != 2 or shape[0] != window:
        raise ManifestError(
            f"manifest.json: a series bundle's input.shape must be [window, columns] = [{window}, C], "
            f"got {shape}; {_FIX}"
        )
    _count(s, "stride", 1)
    time_column = s.get("time_column")
    if time_column is not None and (not isinstance(time_column, str) or not time_column):
        raise _bad("time_column", "null or a non-empty column name", time_column)
    if time_column is not None and time_column in (m["input"].get("feature_names") or ()):
        raise _bad("time_column", "a column that is not a feature", time_column)
    if s.get("step_score") not in STEP_SCORES:
        raise _bad("step_score", f"one of {list(STEP_SCORES)}", s.get("step_score"))
    warmup = s.get("warmup")
    if warmup != WARMUP or not isinstance(warmup.get("label"), int) or isinstance(warmup.get("label"), bool):
        raise _bad("warmup", repr(WARMUP).replace("None", "null"), warmup)
    alarm = s.get("alarm")
    if not isinstance(alarm, dict):
        raise _bad("alarm", 'an object {"k": ..., "n": ..., "hold_off": ...}', alarm)
    k, n = _count(alarm, "k", 1, "alarm."), _count(alarm, "n", 1, "alarm.")
    if k > n:
        raise _bad("alarm.k", f"at most alarm.n ({n})", k)
    _count(alarm, "hold_off", 0, "alarm.")
    if "scorer" not in m["graphs"]:
        raise ManifestError(
            f"manifest.json: a series bundle needs a scorer graph (graphs: {sorted(m['graphs'])}); {_FIX}"
        )
