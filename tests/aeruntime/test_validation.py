"""The input checks of aeruntime.validation: the one row rule and the one columns-by-name rule."""

from __future__ import annotations

import numpy as np
import pytest

from aeruntime.errors import BundleError, InvalidInputError
from aeruntime.validation import LISTED, check_finite, check_rows, first_non_finite, listing, match_columns, where


def test_a_chunk_names_its_row_in_the_stream_and_the_column_by_name():
    x = np.ones((4, 3), np.float32)
    x[2, 1] = np.inf
    assert first_non_finite(x) == (2, (1,))
    assert where(1000 + 2, (1,), (3,), ["a", "b", "c"]) == "row 1002, column 'b'"
    with pytest.raises(InvalidInputError, match=r"^part\.npy: row 1002, column 'b' holds an infinite value; "):
        check_finite(x, "part.npy", start=1000, columns=["a", "b", "c"])
    with pytest.raises(InvalidInputError, match=r"X contains 0 NaN and 1 infinite values, first at row 2, column 1;"):
        check_finite(x)


def test_rows_of_higher_rank_name_the_element():
    x = np.zeros((2, 1, 2, 2))
    x[1, 0, 1, 0] = np.nan
    with pytest.raises(InvalidInputError, match=r"first at row 1, element \(0, 1, 0\);"):
        check_rows(x, (1, 2, 2))


def test_flat_rows_min_rows_and_the_cast():
    flat = np.arange(8.0).reshape(2, 4)
    assert check_rows(flat, (1, 2, 2), flat_ok=True).shape == (2, 1, 2, 2)
    with pytest.raises(InvalidInputError, match=r"has 1 row .*expects at least 2 rows"):
        check_rows(flat[:1], (4,), min_rows=2)
    with pytest.raises(InvalidInputError, match=r"expected at least 2 rows of 5 features"):
        check_rows(flat, (5,), min_rows=2)
    with pytest.raises(InvalidInputError, match=r"a value beyond the float32 range"):
        check_rows(np.full((1, 4), 1e39), (4,), dtype=np.float32)
    assert check_rows([[1, 2]], (2,), dtype=np.float64).dtype == np.float64


def test_columns_by_name_one_message_one_listing():
    names = [f"c{i}" for i in range(30)]
    assert match_columns(names, ["c3", "c1"], where="t.csv") == ["c3", "c1"]
    with pytest.raises(InvalidInputError, match=r"t\.csv: missing 2 of the 3 feature columns .*\['x', 'y'\]"):
        match_columns(names, ["c1", "x", "y"], where="t.csv")
    with pytest.raises(InvalidInputError, match=r"the columns \['a'\] appear more than once"):
        match_columns(["a", "a"], ["a"], where="t.csv")
    with pytest.raises(InvalidInputError, match=r"cannot also be the label"):
        match_columns(names, ["c1"], where="t.csv", reserved=["c1"])
    assert listing(names).endswith(" ... (30 in all)") and listing(names).count("'") == 2 * LISTED


# ----------------------------------------------------------------------------- who is blamed for an overflowed score
SCALER = {"mean": [0.0, 0.0, 0.0], "scale": [1.0, 1e-8, 1e9]}
INF_SCORE = np.array([1.0, np.inf], np.float32)


@pytest.mark.parametrize(
    ("row", "scaler", "error", "pattern"),
    [
        # 1e10 in a column the bundle scales by 1e-8: 1e18 where the model computes, the data is extreme
        (
            [1.0, 1e10, 1.0],
            SCALER,
            InvalidInputError,
            r"row 1 .* largest \|value\| after the bundle's scaler.*: 1e\+18",
        ),
        # 1e16 in a column the bundle scales by 1e9: 1e7 where the model computes, the graph is at fault
        (
            [1.0, 1.0, 1e16],
            SCALER,
            BundleError,
            r"moderate size \(largest \|value\| after the bundle's scaler.*1e\+08\)",
        ),
        # without a scaler, the raw magnitude (as before)
        ([1.0, 1.0, 1e16], None, InvalidInputError, r"values this large .* Rescale those columns"),
        ([1.0, 1e10, 1.0], None, BundleError, r"the bundle is at fault, not your data"),
        # a scaler that does not fit the row: the raw magnitude
        ([1.0, 1.0, 1e16], {"mean": [0.0], "scale": [1.0, 2.0]}, InvalidInputError, r"Rescale those columns"),
    ],
)
def test_an_overflowed_score_is_blamed_by_the_standardised_magnitude(row, scaler, error, pattern):
    from aeruntime.validation import check_scores

    x = np.array([[0.0, 0.0, 0.0], row])
    with pytest.raises(error, match=pattern) as exc:
        check_scores(INF_SCORE, x, scaler=scaler)
    assert type(exc.value) is error  # BundleError and InvalidInputError are not each other


def test_a_window_is_standardised_per_channel():
    from aeruntime.validation import check_scores

    x = np.zeros((2, 4, 2))
    x[1, 3, 1] = 1e10  # channel 1 scaled by 1e-8: extreme
    with pytest.raises(InvalidInputError, match=r"after the bundle's scaler.*1e\+18"):
        check_scores(INF_SCORE, x, scaler={"mean": [0.0, 0.0], "scale": [1.0, 1e-8]})
