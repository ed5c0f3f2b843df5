"""`aeexport compare-pca`: AE vs PCA figures against a direct sklearn / numpy computation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aeruntime.errors import InvalidInputError
from tests.conftest import MODELS


@pytest.fixture(scope="module")
def dense():
    import aeruntime

    return aeruntime.load(MODELS / "digits-dense", providers="cpu")


@pytest.fixture(scope="module")
def split(dense):
    from aeexport.report import bundle_split

    return bundle_split(dense.manifest, "digits", tuple(dense.input_shape))


def test_the_bundles_own_split_is_reproduced(dense, split):
    info = dense.manifest["dataset"]
    assert split.exact
    assert len(split.train) == info["train_rows"] and len(split.heldout) == info["test_rows"]
    # the scaler was fitted on the training rows: their statistics match the manifest's scaler
    np.testing.assert_allclose(split.train.mean(axis=0), dense.manifest["scaler"]["mean"], atol=1e-4)
    assert int(split.y_heldout.sum()) == 178  # all digit-0 rows are held-out anomalies


def test_compare_pca_matches_sklearn_and_numpy(dense, split):
    from sklearn.decomposition import PCA

    from aeexport.report import compare_pca

    test = split.heldout[split.y_heldout == 0]
    r = compare_pca(dense, split.train, test)
    mean = np.asarray(dense.manifest["scaler"]["mean"], np.float64)
    scale = np.asarray(dense.manifest["scaler"]["scale"], np.float64)
    xs_train, xs_test = (split.train - mean) / scale, (test - mean) / scale
    pca = PCA(n_components=16).fit(xs_train)
    pca_hat = pca.inverse_transform(pca.transform(xs_test)) * scale + mean
    ae_hat = dense.reconstruct(test.astype(np.float32)).astype(np.float64)
    centre = xs_train.mean(axis=0) * scale + mean
    for name, hat in (("pca", pca_hat), ("autoencoder", ae_hat)):
        res = test - hat
        assert r[name]["mse_raw"] == pytest.approx(np.mean(res**2), rel=1e-9)
        assert r[name]["mse_scaled"] == pytest.approx(np.mean((res / scale) ** 2), rel=1e-9)
        sst = np.sum(((test - centre) / scale) ** 2)
        assert r[name]["explained_variance"] == pytest.approx(1 - np.sum((res / scale) ** 2) / sst, rel=1e-9)
    # the AE's scaled MSE is its mse anomaly score, as the deployed scorer computes it
    assert r["autoencoder"]["mse_scaled"] == pytest.approx(float(dense.score(test).mean()), rel=1e-4)
    assert r["pca_train_explained_variance_ratio"] == pytest.approx(pca.explained_variance_ratio_.sum(), rel=1e-9)
    assert r["code_size"] == r["pca_components"] == 16
    assert r["winner"] == ("autoencoder" if r["mse_ratio_ae_to_pca"] < 1 else "pca")


def test_pca_with_every_component_reconstructs_exactly(dense, split):
    from aeexport.report import compare_pca

    r = compare_pca(dense, split.train, split.heldout, n_components=64)
    assert r["pca"]["mse_raw"] < 1e-20
    assert r["pca"]["explained_variance"] == pytest.approx(1.0, abs=1e-12)


def test_random_split_for_other_data_and_bad_inputs(dense, tmp_path, digits):
    from aeexport.report import bundle_split, compare_pca

    X, y = digits
    npz = tmp_path / "d.npz"
    np.savez(npz, X=X, y=(y == 0).astype(np.int8))
    s = bundle_split(dense.manifest, str(npz), (64,), holdout_fraction=0.25, seed=3)
    assert not s.exact and "random split" in s.how
    n_normal = int(np.sum(y != 0))
    assert len(s.train) == n_normal - n_normal // 4
    assert int(s.y_heldout.sum()) == int(np.sum(y == 0))  # every anomaly is held out, none trained on
    with pytest.raises(InvalidInputError, match=r"holdout fraction must be in \(0, 1\)"):
        bundle_split(dense.manifest, str(npz), (64,), holdout_fraction=1.0)
    with pytest.raises(InvalidInputError, match="expected at least 2 rows of 64 features"):
        compare_pca(dense, X[:, :10], X[:50])
    Xn = X[:50].copy()
    Xn[3, 3] = np.nan
    with pytest.raises(InvalidInputError, match="NaN or infinite"):
        compare_pca(dense, X[:100], Xn)


def test_cli_compare_pca(tmp_path):
    from click.testing import CliRunner

    from aeexport.cli import main
    from aeexport.report import compare_pca_bundle

    runner = CliRunner()
    res = runner.invoke(main, ["compare-pca", str(MODELS / "digits-conv"), "digits", "--json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    want = compare_pca_bundle(MODELS / "digits-conv", "digits")
    assert got["autoencoder"] == pytest.approx(want["autoencoder"]) and got["pca"] == pytest.approx(want["pca"])
    res = runner.invoke(main, ["compare-pca", str(MODELS / "digits-conv"), "digits"])
    assert res.exit_code == 0 and "autoencoder vs PCA at code size 16" in res.output
    bad = tmp_path / "w.npy"
    np.save(bad, np.zeros((20, 3), np.float32))
    res = runner.invoke(main, ["compare-pca", str(MODELS / "digits-conv"), str(bad)])
    assert res.exit_code == 2 and "rows have 3 features" in res.output and "Traceback" not in res.output
