"""Property test (hypothesis): rows in = rows out for CSV files of random dialects.

Header or not (names, numeric-looking names with ``header=True``, pandas' ``0,1,...``),
quoted fields, CRLF or LF, blank lines between rows, a blank cell, a trailing newline
or not, small parse pieces (so rows cross piece boundaries): the reader returns exactly
the data rows, with the values numpy reads from the same text, or refuses a blank cell
naming its line; a row is never added nor dropped.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import numpy as np
import pytest

from aeruntime.errors import InvalidInputError
from aeruntime.tables import csv_reader, load_table, open_source
from aeruntime.tables.common import is_number
from tests.helpers import needs_pyarrow

hypothesis = pytest.importorskip(
    "hypothesis", reason="needs hypothesis: the property tests run with pip install hypothesis"
)
given, settings, HealthCheck = hypothesis.given, hypothesis.settings, hypothesis.HealthCheck
st = pytest.importorskip("hypothesis.strategies")

pytestmark = needs_pyarrow

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

numbers = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(-1e6, 1e6, allow_nan=False, width=32).map(lambda v: f"{v:.6g}"),
    st.sampled_from(["0", "1", "-0", "1e3", "2.5E-3", ".5", "7."]),
)


names = st.text("abcdefghijklmnopqrstuvwxyz_ ", min_size=1, max_size=6).filter(
    lambda s: s.strip() == s and not is_number(s)  # "inf", "nan" are numbers
)


@st.composite
def dialects(draw: Any) -> dict[str, Any]:
    n_cols = draw(st.integers(1, 5))
    rows = draw(st.lists(st.lists(numbers, min_size=n_cols, max_size=n_cols), min_size=1, max_size=25))
    kind = draw(
        st.sampled_from(["none", "names", "numeric", "pandas"] if n_cols >= 2 else ["none", "names", "numeric"])
    )
    header: list[str] | None
    if kind == "names":
        header = draw(st.lists(names, min_size=n_cols, max_size=n_cols, unique=True))
    elif kind == "numeric":
        header = [str(v) for v in draw(st.lists(st.integers(-99, 999), min_size=n_cols, max_size=n_cols, unique=True))]
    elif kind == "pandas":
        header = [str(i) for i in range(n_cols)]
    else:
        header = None
    # what the reader is told: automatic only where the rule is certain of the answer
    force = {"none": [None, False], "names": [None, True], "numeric": [True], "pandas": [None, True]}[kind]
    told = draw(st.sampled_from(force))
    if kind == "none" and told is None and n_cols >= 2 and rows[0] == [str(i) for i in range(n_cols)]:
        told = False  # a first row of exactly 0,1,...: read as pandas' header unless told otherwise
    return {
        "header": header,
        "told": told,
        "rows": rows,
        "eol": draw(st.sampled_from(["\n", "\r\n"])),
        "quote": draw(st.sampled_from(["never", "some", "all"])),
        "gaps": draw(st.lists(st.integers(0, len(rows)), max_size=3)),  # blank lines before these rows
        "trailing": draw(st.booleans()),
        # a blank cell (of a one-column file that is a blank line, skipped like any other)
        "blank": draw(
            st.none() | st.tuples(st.just(0) | st.integers(0, len(rows) - 1), st.integers(0, n_cols - 1))
            if n_cols > 1
            else st.none()
        ),
        "piece": draw(st.sampled_from([None, 16, 64])),
        "quoted": draw(st.lists(st.booleans(), min_size=64, max_size=64)),
    }


def _field(d: dict[str, Any], text: str, k: int) -> str:
    q = d["quote"] == "all" or (d["quote"] == "some" and d["quoted"][k % 64])
    return f'"{text}"' if q else text


def _write(d: dict[str, Any]) -> tuple[str, list[int]]:
    """The file's text, and the line number of each data row."""
    lines: list[str] = []
    if d["header"] is not None:
        lines.append(",".join(_field(d, h, j) for j, h in enumerate(d["header"])))
    row_lines = []
    for i, row in enumerate(d["rows"]):
        lines += [""] * d["gaps"].count(i) if i else []  # blank lines between rows (never first)
        cells = list(row)
        if d["blank"] is not None and d["blank"][0] == i:
            cells[d["blank"][1]] = ""
        lines.append(",".join(_field(d, c, i + j) for j, c in enumerate(cells)))
        row_lines.append(len(lines))
    text = d["eol"].join(lines) + (d["eol"] if d["trailing"] else "")
    return text, row_lines


@PROPERTY
@given(d=dialects())
def test_rows_in_equal_rows_out(tmp_path_factory, d):
    text, row_lines = _write(d)
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    path.write_bytes(text.encode())
    expected = np.array([[float(c) for c in row] for row in d["rows"]], dtype=np.float64)
    piece = d["piece"] or csv_reader._PIECE
    with mock.patch.object(csv_reader, "_PIECE", piece):
        if d["blank"] is not None:
            line = row_lines[d["blank"][0]]
            with pytest.raises(InvalidInputError, match=rf"missing value in column .*line {line}\b"):
                load_table(path, header=d["told"])
            return
        table = load_table(path, header=d["told"])
        chunks = list(open_source(path, 7, header=d["told"], dtype=np.float64))
    assert table.X.shape == expected.shape  # rows in = rows out
    np.testing.assert_array_equal(table.X, expected)
    assert table.feature_names == (None if d["header"] is None else d["header"])
    assert sum(len(c) for c in chunks) == len(expected)
    assert [c.start for c in chunks if len(c)] == list(range(0, len(expected), 7))
