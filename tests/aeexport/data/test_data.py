"""Data loading (.npy, .npz, .csv, digits) and the novelty split."""

from __future__ import annotations

import numpy as np
import pytest

from aeexport.data import as_model_input, binary_labels, load_dataset, make_split
from aeruntime.errors import InvalidInputError


def test_digits_is_sklearns_bundled_set(digits):
    ds = load_dataset("digits")
    np.testing.assert_array_equal(ds.X, digits[0])
    assert ds.X.shape == (1797, 64) and ds.image_shape == (1, 8, 8)
    assert as_model_input(ds.X, 3, ds.image_shape).shape == (1797, 1, 8, 8)


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv"])
def test_files_load_the_same_rows(tmp_path, suffix):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 5)).astype(np.float32)
    y = (rng.random(30) < 0.2).astype(np.int64)
    path = tmp_path / f"data{suffix}"
    if suffix == ".npy":
        np.save(path, X)
    elif suffix == ".npz":
        np.savez(path, X=X, y=y)
    else:
        header = "a,b,label,c,d,e"
        table = np.column_stack([X[:, :2], y, X[:, 2:]])
        np.savetxt(path, table, delimiter=",", header=header, comments="", fmt="%.9g")
    ds = load_dataset(str(path), label_column="label" if suffix == ".csv" else None)
    np.testing.assert_allclose(ds.X, X, rtol=1e-6)
    if suffix != ".npy":
        np.testing.assert_array_equal(ds.y, y)


def test_csv_without_header_and_bad_label_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("1,2\n3,4\n5,6\n")
    np.testing.assert_array_equal(load_dataset(str(path)).X, [[1, 2], [3, 4], [5, 6]])
    with pytest.raises(InvalidInputError, match=r"label column 'y' not found.*no header row"):
        load_dataset(str(path), label_column="y")
    path.write_text("a,b\n1,2\n3\n")
    with pytest.raises(InvalidInputError, match=r"line 3 has 1 fields, but the header has 2"):
        load_dataset(str(path))
    path.write_text("a,b\n1,x\n3,4\n")
    with pytest.raises(InvalidInputError, match="expected numeric values"):
        load_dataset(str(path))


def test_pickled_npy_is_never_loaded(tmp_path):
    path = tmp_path / "obj.npy"
    with open(path, "wb") as fh:  # an object-dtype .npy: its payload would be a pickle
        np.lib.format.write_array_header_1_0(fh, {"descr": "|O", "fortran_order": False, "shape": (1,)})
        fh.write(b"\x80\x04N.")
    with pytest.raises(InvalidInputError, match="pickled objects, which are never loaded"):
        load_dataset(str(path))


def test_unknown_dataset_name():
    with pytest.raises(InvalidInputError, match=r"neither a built-in dataset \['digits'\] nor an existing file"):
        load_dataset("mnist")


def test_novelty_split_keeps_anomalies_out_of_training(digits):
    X, y = digits
    yb = binary_labels(y, 0)
    s = make_split(X, yb, val_fraction=0.15, test_fraction=0.2, seed=3)
    n_normal = int((yb == 0).sum())
    assert len(s.train) + len(s.val) + int((s.y_test == 0).sum()) == n_normal
    assert int(s.y_test.sum()) == int(yb.sum())  # every anomaly is in test
    rows = {r.tobytes() for r in X[yb == 1]}
    assert not any(r.tobytes() in rows for r in s.train)
    again = make_split(X, yb, val_fraction=0.15, test_fraction=0.2, seed=3)
    np.testing.assert_array_equal(again.train, s.train)


def test_binary_labels_reject_more_than_two_classes():
    with pytest.raises(
        InvalidInputError, match=r"labels must be 0 \(normal\) and 1 \(anomaly\), got values \[0, 1, 2\]"
    ):
        binary_labels(np.array([0, 1, 2]))
