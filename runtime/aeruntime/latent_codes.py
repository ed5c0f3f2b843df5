"""Compressed latent codes: per-dimension affine int8 quantisation (numpy only).

An autoencoder used for compression encodes on one device, sends the code and
decodes elsewhere. At fp32 a code costs ``4 * latent`` bytes per row; int8 codes
cost ``latent`` bytes. The parameters are fitted at export time on the codes of
held-out rows and stored in ``manifest["latent"]["quantization"]["int8"]`` so
that any language can dequantise::

    q = clip(round(z / scale) + zero_point, -128, 127)        (int8)
    z ~= (q - zero_point) * scale                             (float32)

``scale`` and ``zero_point`` have one entry per latent element (flattened order).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InvalidInputError

__all__ = ["INT8_RULE", "fit_int8", "quantize_int8", "dequantize_int8", "CODE_DTYPES"]

#: code precisions ``aeruntime encode --codes`` writes
CODE_DTYPES = ("float32", "float16", "int8")
#: the rule, written next to the parameters in the manifest
INT8_RULE = "q = clip(round(z / scale) + zero_point, -128, 127); z = (q - zero_point) * scale"
_QMIN, _QMAX = -128, 127


def fit_int8(z: np.ndarray, margin: float = 0.05) -> dict[str, Any]:
    """Per-dimension int8 parameters covering the range of ``z`` (widened by ``margin`` on each side).

    Parameters
    ----------
    z : ndarray of shape (n_rows, *latent_shape)
        Codes of held-out rows (float).
    margin : float
        Fraction of each dimension's range added on both sides, so codes of new rows
        slightly outside the fitted range are not clipped.

    Returns
    -------
    dict
        ``{"dtype": "int8", "scale": [d floats], "zero_point": [d ints], "rule": INT8_RULE,
        "rows": n_rows}``, JSON-serializable.
    """
    flat = np.asarray(z, dtype=np.float64).reshape(len(z), -1)
    if flat.shape[0] == 0 or not np.isfinite(flat).all():
        raise InvalidInputError(
            f"fitting int8 code parameters needs at least one row of finite codes, got shape {flat.shape}."
        )
    lo, hi = flat.min(axis=0), flat.max(axis=0)
    pad = (hi - lo) * margin
    lo, hi = np.minimum(lo - pad, 0.0), np.maximum(hi + pad, 0.0)  # the range always holds 0 exactly
    scale = np.maximum((hi - lo) / (_QMAX - _QMIN), 1e-12)
    zero_point = np.clip(np.round(_QMIN - lo / scale), _QMIN, _QMAX).astype(np.int64)
    return {
        "dtype": "int8",
        "scale": [float(s) for s in scale.astype(np.float32)],
        "zero_point": [int(v) for v in zero_point],
        "rule": INT8_RULE,
        "rows": int(flat.shape[0]),
    }


def _params(params: dict[str, Any], d: int) -> tuple[np.ndarray, np.ndarray]:
    scale = np.asarray(params.get("scale", []), dtype=np.float32)
    zero = np.asarray(params.get("zero_point", []), dtype=np.float32)
    if scale.shape != (d,) or zero.shape != (d,) or not (scale > 0).all():
        raise InvalidInputError(
            f"int8 code parameters must hold {d} positive scales and {d} zero points (one per latent "
            f"element), got {scale.shape[0]} and {zero.shape[0]}; re-export the bundle."
        )
    return scale, zero


def quantize_int8(z: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Codes (n_rows, *latent_shape) float -> int8 of the same shape, by ``params`` (:func:`fit_int8`)."""
    z = np.asarray(z, dtype=np.float32)
    flat = z.reshape(len(z), -1)
    scale, zero = _params(params, flat.shape[1])
    q = np.clip(np.rint(flat / scale) + zero, _QMIN, _QMAX).astype(np.int8)
    return q.reshape(z.shape)


def dequantize_int8(q: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """int8 codes (n_rows, *latent_shape) -> float32 codes of the same shape, by ``params``."""
    q = np.asarray(q)
    if q.dtype != np.int8:
        raise InvalidInputError(f"int8 codes must have dtype int8, got {q.dtype}; write them with --codes int8.")
    flat = q.reshape(len(q), -1).astype(np.float32)
    scale, zero = _params(params, flat.shape[1])
    return ((flat - zero) * scale).reshape(q.shape).astype(np.float32)
