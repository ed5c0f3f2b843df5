"""CSV rows of numbers with the standard library: the same bytes as pyarrow's CSV writer.

The edge install (``aeruntime[cpu]``, no pyarrow) writes scores, codes and rows as CSV
with this module; with pyarrow installed the sinks use pyarrow's writer, and the tests
check that both give identical files. pyarrow's number format, reproduced here:

- integers as ``str(int)``;
- float32 as the shortest decimal that reads back to the same float32, float64 (and
  float16, which pyarrow widens to float64) as the shortest for float64;
- positional notation when the decimal exponent ``e`` is in ``-6 <= e < 10``
  (``0.000001``, ``1500000000``, ``100``; no trailing ``.0``), else ``1.5e+10`` / ``1e-7``;
- ``inf``, ``-inf``, ``nan``, ``-0``; rows end with ``\\n``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["csv_lines", "format_number"]

#: decimal exponents written positionally by pyarrow (double-conversion's shortest mode with these bounds)
_POSITIONAL = range(-6, 10)


def _shortest(value: np.floating) -> str:
    """pyarrow's text of one finite float: shortest round-trip digits, positional or exponent."""
    mantissa, exponent = np.format_float_scientific(value, unique=True, trim="-").split("e")
    sign = "-" if mantissa.startswith("-") else ""
    digits = mantissa.lstrip("-").replace(".", "")
    e = int(exponent)
    if digits == "0":
        return sign + "0"
    if e not in _POSITIONAL:
        tail = f".{digits[1:]}" if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{tail}e{'+' if e > 0 else '-'}{abs(e)}"
    point = e + 1  # digits before the decimal point
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def format_number(value: np.generic) -> str:
    """One numpy scalar as pyarrow's CSV writer prints it (see the module docstring)."""
    if isinstance(value, np.integer):
        return str(int(value))
    if isinstance(value, np.bool_):
        return "true" if value else "false"
    if isinstance(value, np.float16):
        value = np.float64(value)  # pyarrow writes half floats widened to double
    if np.isnan(value):
        return "nan"
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    return _shortest(value)


def csv_lines(columns: Sequence[np.ndarray]) -> bytes:
    """The CSV body (no header) of equal-length 1-D numeric ``columns``: one ``a,b,...\\n`` line per row."""
    if not columns or not len(columns[0]):
        return b""
    text = [[format_number(v) for v in col] for col in columns]
    return "".join(",".join(row) + "\n" for row in zip(*text)).encode()
