"""Issue 11: the tabular default is chosen automatically, its scorer holds parity, and it ranks
planted anomalies better than what a user got before without flags."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from sklearn.metrics import roc_auc_score

from aeexport.cli import main
from aeexport.data import load_dataset, robust_iqr_scaler, robust_scaler
from aeexport.settings import PRESETS, ExportOptions, TrainConfig, apply_preset, choose_preset
from aeexport.train import fit_tabular, is_image_data
from aeruntime.errors import InvalidInputError


def _planted(seed: int, n: int = 1500, d: int = 10, rate: float = 0.12) -> tuple[np.ndarray, np.ndarray]:
    """Rows on a 3-dim linear structure plus noise; ``rate`` of them have one of three features
    pushed 2.5 to 4 standard deviations out (the anomalies, label 1)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) @ rng.normal(size=(3, d)) + 0.3 * rng.normal(size=(n, d))
    y = np.zeros(n, np.int64)
    idx = rng.choice(n, int(rate * n), replace=False)
    y[idx] = 1
    f = rng.integers(0, 3, size=len(idx))
    X[idx, f] += rng.choice([-1, 1], size=len(idx)) * rng.uniform(2.5, 4, size=len(idx)) * X[:, :3].std(0)[f]
    return X.astype(np.float32), y


def test_auto_resolves_to_tabular_for_rows_and_default_for_an_explicit_model():
    assert choose_preset("auto", image=False) == "tabular"
    assert choose_preset("auto", image=True) == "image"  # issue 24 (tests/aeexport/train/test_image_preset.py)
    assert choose_preset("auto", image=False, explicit={"kind"}) == "default"
    assert choose_preset("tabular-v1", image=True) == "tabular-v1"  # explicit presets are kept
    with pytest.raises(InvalidInputError, match="preset must be one of"):
        choose_preset("fast", image=False)
    cfg, opts = apply_preset("auto", "dense", TrainConfig(), {}, 4000, 21)
    assert (cfg.scaler, cfg.epochs, cfg.trim_fraction, cfg.batch_size) == ("robust", 60, 0.35, 100)
    assert opts == {"hidden": [128, 64], "latent_dim": 8, "dropout": 0.2}
    assert apply_preset("tabular-v3", "dense", TrainConfig(), {}, 4000, 21) == (cfg, {**opts, "hidden": [64, 32]})
    assert apply_preset("auto", "dense", TrainConfig(), {}, 4000, 200)[1] == {"dropout": 0.2}  # wide rows
    assert apply_preset("auto", "conv", TrainConfig(), {}, 4000, 64, {"kind"}) == (TrainConfig(), {})
    assert set(PRESETS) == {"auto", "default", "tabular", "image", "tabular-v3", "tabular-v2", "tabular-v1"}
    cfg, _ = apply_preset("tabular-v2", "dense", TrainConfig(), {}, 4000, 21)
    assert (cfg.scaler, cfg.trim_fraction) == ("robust-iqr", 0.35)


def test_image_data_is_recognised(tmp_path):
    assert is_image_data(load_dataset("digits"))
    rng = np.random.default_rng(0)
    np.save(tmp_path / "img.npy", rng.normal(size=(20, 1, 4, 4)).astype(np.float32))
    np.save(tmp_path / "rows.npy", rng.normal(size=(20, 16)).astype(np.float32))
    assert is_image_data(load_dataset(str(tmp_path / "img.npy")))
    assert not is_image_data(load_dataset(str(tmp_path / "rows.npy")))


def test_cli_train_without_flags_uses_the_tabular_default_on_rows_only(tmp_path):
    X, _ = _planted(0, n=300)
    np.save(tmp_path / "rows.npy", X)
    runner = CliRunner()
    r = runner.invoke(main, ["train", str(tmp_path / "rows.npy"), "--out", str(tmp_path / "t"), "--epochs", "2", "-q"])
    assert r.exit_code == 0, r.output
    meta = json.loads((tmp_path / "t" / "config.json").read_text())
    tc = meta["training"]["train_config"]
    assert tc["scaler"] == "robust" and tc["trim_fraction"] == 0.35 and tc["epochs"] == 2  # explicit wins
    assert meta["model_config"]["hidden"] == [128, 64] and meta["model_config"]["dropout"] == 0.2
    # explicit scaler and --preset default keep today's behaviour
    r = runner.invoke(
        main,
        [
            "train",
            str(tmp_path / "rows.npy"),
            "--out",
            str(tmp_path / "s"),
            "--epochs",
            "2",
            "--scaler",
            "standard",
            "-q",
        ],
    )
    assert json.loads((tmp_path / "s" / "config.json").read_text())["training"]["train_config"]["scaler"] == "standard"
    r = runner.invoke(
        main,
        [
            "train",
            str(tmp_path / "rows.npy"),
            "--out",
            str(tmp_path / "d"),
            "--epochs",
            "2",
            "--preset",
            "default",
            "-q",
        ],
    )
    tc = json.loads((tmp_path / "d" / "config.json").read_text())["training"]["train_config"]
    assert (tc["scaler"], tc["trim_fraction"], tc["patience"]) == ("standard", 0.0, 20)
    # images (digits) do not get the tabular preset (they get the image preset: test_image_preset.py)
    r = runner.invoke(main, ["train", "digits", "--out", str(tmp_path / "g"), "--epochs", "1", "-q"])
    assert r.exit_code == 0, r.output
    meta = json.loads((tmp_path / "g" / "config.json").read_text())
    assert meta["training"]["train_config"]["trim_fraction"] == 0.0 and meta["model_config"]["dropout"] == 0.0


def _zero_inflated(rng: np.random.Generator, n: int, cols: int) -> np.ndarray:
    """Sparse-pixel-like columns (n, cols): 70% zeros, 8% faint values (1 to 10), 22% near 255."""
    u = rng.random((n, cols))
    return np.where(u < 0.7, 0.0, np.where(u < 0.78, rng.uniform(1, 10, (n, cols)), rng.uniform(200, 255, (n, cols))))


def test_robust_scaler_matches_numpy_and_ignores_the_extremes():
    rng = np.random.default_rng(0)
    X = rng.normal(2.0, 3.0, size=(4000, 3))
    X[:200, 0] = 1e4  # contamination that inflates the standard deviation
    X[:, 2] = np.arange(4000) % 10 == 0  # middle half constant: IQR 0 -> std
    med, scale = robust_scaler(X)
    np.testing.assert_allclose(med[:2], np.median(X[:, :2], axis=0))
    q25, q75 = np.percentile(X[:, 1], [25, 75])
    np.testing.assert_allclose(scale[1], (q75 - q25) / 1.349)
    assert 2.5 < scale[0] < 3.6 and X[:, 0].std() > 1000  # the extremes do not set the scale
    np.testing.assert_allclose(scale[2], X[:, 2].std())
    np.testing.assert_allclose(robust_iqr_scaler(X)[1], scale)  # no dispersed feature here: the same


def test_robust_scaler_takes_the_std_of_dispersed_features_only():
    """A zero-inflated feature (22% of its rows beyond 10 IQR scales) takes its std; a feature
    with 5% extremes (anomalies) keeps the IQR; ``robust-iqr`` keeps the IQR for both."""
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.normal(size=4000), _zero_inflated(rng, 4000, 1)[:, 0]])
    X[:200, 0] = 50.0
    q25, q75 = np.percentile(X, [25, 75], axis=0)
    far = (np.abs(X - np.median(X, axis=0)) > 10 * (q75 - q25) / 1.349).mean(axis=0)
    assert far[0] < 0.06 and far[1] > 0.2  # the rule's input (threshold 0.15), computed independently
    med, scale = robust_scaler(X)
    np.testing.assert_allclose(med, np.median(X, axis=0))
    np.testing.assert_allclose(scale, [(q75[0] - q25[0]) / 1.349, X[:, 1].std()])
    np.testing.assert_allclose(robust_iqr_scaler(X)[1], (q75 - q25) / 1.349)
    assert robust_scaler(X, dispersed_share=0.5)[1][1] == pytest.approx((q75[1] - q25[1]) / 1.349)


@pytest.mark.parametrize(
    "kind_options",
    [None, {"members": 3, "hidden": [16], "latent_dims": [2, 4], "feature_fraction": 0.7, "score": "members"}],
    ids=["tabular-default", "ensemble-members"],
)
def test_scorer_parity_at_batch_1_7_1024(tmp_path, kind_options):
    import aeruntime
    from aeexport.export import export_bundle
    from aeexport.train import train_model

    X, _ = _planted(1, n=1400)
    if kind_options is None:
        result, val = fit_tabular(X[:1000], seed=0, epochs=3)
    else:
        cfg = TrainConfig(epochs=3, progress=False, scaler="robust", seed=0)
        result, val = (
            train_model(X[:850], X[850:1000], kind="ensemble", model_options=kind_options, config=cfg),
            X[850:1000],
        )
    manifest = export_bundle(
        result.model,
        tmp_path / "b",
        calibration_x=val,
        options=ExportOptions(batches=(1, 7, 1024)),
        training=result.summary(),
    )
    assert manifest["parity"]["ok"]
    assert {r["batch"] for r in manifest["parity"]["rows"] if "batch" in r} >= {1, 7, 1024}
    assert manifest["scaler"]["kind"] == "robust"
    model = aeruntime.load(tmp_path / "b", providers="cpu")
    rows = np.concatenate([X, X])[:1024]
    with torch.inference_mode():
        ref = result.model.scorer_graph(torch.from_numpy(rows)).numpy()
    for b in (1, 7, 1024):
        np.testing.assert_allclose(model.score(rows[:b]), ref[:b], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        model.reconstruct(rows[:7]),
        result.model.decoder_graph(result.model.encoder_graph(torch.from_numpy(rows[:7]))).detach().numpy(),
        rtol=1e-4,
        atol=1e-4,
    )


@pytest.mark.slow
def test_the_new_default_ranks_planted_anomalies_better_than_the_old_one():
    """Old: what ``aeexport train`` gave on a table without flags before issue 11 (the generic
    dense defaults); new: what it gives now (``--preset auto`` -> tabular). Contaminated training."""
    aucs = {}
    for preset in ("default", "auto"):
        per_seed = []
        for seed in (0, 1):
            X, y = _planted(seed)
            result, _ = fit_tabular(X[:900], seed=0, preset=preset, epochs=60)
            with torch.inference_mode():
                s = result.model.scorer_graph(torch.from_numpy(X[900:])).numpy()
            per_seed.append(roc_auc_score(y[900:], s))
        aucs[preset] = float(np.mean(per_seed))
    assert aucs["auto"] > 0.98
    assert aucs["auto"] - aucs["default"] > 0.03, aucs


@pytest.mark.slow
def test_the_dispersed_feature_rule_ranks_planted_anomalies_better_than_tabular_v2():
    """Planted anomalies (as above) next to three sparse-pixel-like features: with the IQR on those
    (``tabular-v2``) their ordinary values become huge scaled errors that swamp the anomalies;
    ``tabular-v3`` (the same widths with the rule, as the default has) scales them by their std.
    Contaminated training."""
    aucs: dict[str, list[float]] = {"tabular-v3": [], "tabular-v2": []}
    for seed in (0, 1):
        X, y = _planted(seed)
        X = np.column_stack([X, _zero_inflated(np.random.default_rng(seed + 10), len(X), 3)]).astype(np.float32)
        for preset in aucs:
            result, _ = fit_tabular(X[:900], seed=0, preset=preset, epochs=30)
            with torch.inference_mode():
                s = result.model.scorer_graph(torch.from_numpy(X[900:])).numpy()
            aucs[preset].append(roc_auc_score(y[900:], s))
    new, old = float(np.mean(aucs["tabular-v3"])), float(np.mean(aucs["tabular-v2"]))
    assert new > 0.9 and new - old > 0.1, aucs
