"""The autoencoder against PCA at the same code size, on held-out rows.

An autoencoder with a ``k``-dimensional code is the nonlinear successor of PCA
with ``k`` components; this module measures whether the nonlinearity pays. Both
methods see the same rows: PCA (``sklearn.decomposition.PCA``) is fitted on the
training rows **in the bundle's scaled space** (the space the autoencoder was
trained in, from ``manifest["scaler"]``), and both reconstruct the same held-out
rows. Figures, for each method:

- ``mse_raw``: mean squared reconstruction error in raw feature units;
- ``mse_scaled``: the same in scaled space (for an ``mse`` bundle this is the mean
  anomaly score of the rows);
- ``explained_variance``: ``1 - SSE / SST`` in scaled space on the held-out rows,
  ``SST`` taken about the training mean (PCA's centre), so 1 = perfect and 0 = no
  better than predicting the training mean; ``explained_variance_raw`` likewise
  in raw units.

The autoencoder is run through :func:`aeruntime.load` (the deployed graphs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aeruntime.errors import InvalidInputError
from aeruntime.validation import check_rows

from ..data import binary_labels, is_binary

__all__ = [
    "RowSplit",
    "bundle_split",
    "compare_pca",
    "compare_pca_bundle",
    "fit_pca",
    "format_comparison",
    "reconstruction_metrics",
    "scaler_of",
]


@dataclass
class RowSplit:
    train: np.ndarray  # (n_train, *input_shape) rows the model (and PCA) are fitted on
    heldout: np.ndarray  # (n_heldout, *input_shape) rows neither was fitted on
    y_heldout: np.ndarray | None  # (n_heldout,) 1 = anomaly, 0 = normal; None when unlabelled
    how: str  # one sentence: where the rows came from
    exact: bool  # True when ``train`` are the bundle's own training rows


def scaler_of(manifest: dict[str, Any], input_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The bundle's ``(mean, scale)``, each of shape ``input_shape`` (float64)."""
    sc = manifest.get("scaler") or {}
    n = math.prod(input_shape)
    mean = np.asarray(sc.get("mean", np.zeros(n)), dtype=np.float64).reshape(input_shape)
    scale = np.asarray(sc.get("scale", np.ones(n)), dtype=np.float64).reshape(input_shape)
    return mean, scale


def fit_pca(Xs_train: np.ndarray, k: int, seed: int = 0) -> Any:
    """``sklearn.decomposition.PCA(k)`` fitted on flat rows ``Xs_train`` (n, d); ``k`` capped at min(n, d)."""
    from sklearn.decomposition import PCA

    n, d = Xs_train.shape
    if k < 1:
        raise InvalidInputError(f"PCA needs at least 1 component, got {k}.")
    return PCA(n_components=min(k, n, d), svd_solver="full", random_state=seed).fit(Xs_train)


def reconstruction_metrics(
    x: np.ndarray, x_hat: np.ndarray, mean: np.ndarray, scale: np.ndarray, centre_raw: np.ndarray
) -> dict[str, float]:
    """Error figures of reconstructions ``x_hat`` of raw rows ``x`` (both (n, *shape)).

    ``mean``/``scale`` are the scaler (shape ``shape``); ``centre_raw`` (shape ``shape``) the
    training mean in raw units, the reference of the explained variance.
    """
    x = np.asarray(x, np.float64)
    r = x - np.asarray(x_hat, np.float64)
    sst_raw = float(np.sum((x - centre_raw) ** 2))
    sst_scaled = float(np.sum(((x - centre_raw) / scale) ** 2))
    sse_raw = float(np.sum(r**2))
    sse_scaled = float(np.sum((r / scale) ** 2))
    return {
        "mse_raw": sse_raw / r.size,
        "mse_scaled": sse_scaled / r.size,
        "explained_variance": 1.0 - sse_scaled / sst_scaled if sst_scaled > 0 else float("nan"),
        "explained_variance_raw": 1.0 - sse_raw / sst_raw if sst_raw > 0 else float("nan"),
    }


def compare_pca(
    model: Any, X_train: np.ndarray, X_test: np.ndarray, *, n_components: int | None = None, seed: int = 0
) -> dict[str, Any]:
    """Reconstruction error and explained variance of ``model`` vs PCA on held-out rows.

    Parameters
    ----------
    model : aeruntime.Model
        The deployed bundle (``aeruntime.load``); its latent size is the code size.
    X_train : ndarray of shape (n_train, *input_shape)
        Rows PCA is fitted on (the autoencoder's training rows, for a fair comparison).
    X_test : ndarray of shape (n_test, *input_shape)
        Held-out rows both methods reconstruct.
    n_components : int, optional
        PCA components; default the model's latent size (``prod(latent_shape)``).

    Returns
    -------
    dict with ``code_size``, row counts, ``autoencoder`` and ``pca`` figures (see the module
    docstring), ``pca_train_explained_variance_ratio`` (sklearn's, on the training rows) and
    ``winner`` (lower held-out ``mse_scaled``).
    """
    shape = tuple(model.input_shape)
    X_train = _rows(X_train, shape, "training rows")
    X_test = _rows(X_test, shape, "held-out rows")
    k = int(n_components or math.prod(model.latent_shape))
    mean, scale = scaler_of(model.manifest, shape)
    d = math.prod(shape)
    flat_scale = scale.reshape(1, d)
    flat_mean = mean.reshape(1, d)
    xs_train = (X_train.reshape(len(X_train), d) - flat_mean) / flat_scale  # (n_train, d)
    xs_test = (X_test.reshape(len(X_test), d) - flat_mean) / flat_scale  # (n_test, d)
    pca = fit_pca(xs_train, k, seed)
    pca_hat = (pca.inverse_transform(pca.transform(xs_test)) * flat_scale + flat_mean).reshape(X_test.shape)
    centre_raw = (pca.mean_.reshape(1, d) * flat_scale + flat_mean).reshape(shape)  # training mean, raw units
    ae_hat = model.reconstruct(X_test.astype(np.float32))
    ae = reconstruction_metrics(X_test, ae_hat, mean, scale, centre_raw)
    pc = reconstruction_metrics(X_test, pca_hat, mean, scale, centre_raw)
    return {
        "code_size": k,
        "pca_components": int(pca.n_components_),
        "n_features": d,
        "train_rows": len(X_train),
        "test_rows": len(X_test),
        "space": "PCA fitted on the training rows in the bundle's scaled space; errors on held-out rows",
        "autoencoder": ae,
        "pca": pc,
        "pca_train_explained_variance_ratio": float(np.sum(pca.explained_variance_ratio_)),
        "mse_ratio_ae_to_pca": ae["mse_scaled"] / pc["mse_scaled"] if pc["mse_scaled"] > 0 else float("nan"),
        "winner": "autoencoder" if ae["mse_scaled"] < pc["mse_scaled"] else "pca",
    }


def _rows(X: np.ndarray, shape: tuple[int, ...], what: str) -> np.ndarray:
    """At least 2 finite rows of ``shape`` (any row shape of that size), as float64: the one row rule."""
    return check_rows(X, shape, what, min_rows=2, flat_ok=True, dtype=np.float64)


def bundle_split(
    manifest: dict[str, Any],
    source: str,
    input_shape: tuple[int, ...],
    *,
    label_column: str | None = None,
    anomaly_class: int | None = None,
    holdout_fraction: float = 0.2,
    seed: int = 0,
    header: bool | None = None,
) -> RowSplit:
    """Training and held-out rows of DATA ``source`` for a bundle.

    When ``source`` is the dataset the bundle was trained on (``"digits"``) and the manifest's
    row counts match, the training split is reproduced exactly (same seed and fractions as
    ``aeexport run`` / ``aeexport train``). Otherwise DATA is split at random: the first
    ``1 - holdout_fraction`` of a seeded permutation (normal rows only when labelled) is the
    training part, the rest held out; the autoencoder's own training rows are then unknown.
    """
    from ..data import load_dataset

    if not 0.0 < holdout_fraction < 1.0:
        raise InvalidInputError(f"holdout fraction must be in (0, 1), got {holdout_fraction}.")
    ds = load_dataset(source, label_column=label_column, header=header)
    n_in = math.prod(input_shape)
    if math.prod(ds.X.shape[1:]) != n_in:
        raise InvalidInputError(
            f"{source}: rows have {math.prod(ds.X.shape[1:])} features, but the bundle expects {n_in} (input "
            f"shape {tuple(input_shape)}); pass data with the columns the model was trained on."
        )
    X = ds.X.reshape(len(ds.X), *input_shape)
    info = manifest.get("dataset") or {}
    tc = (manifest.get("training") or {}).get("train_config") or {}
    if anomaly_class is None and info.get("source") == ds.name:
        anomaly_class = info.get("anomaly_class")
    if info.get("source") == ds.name and info.get("rows") == len(X) and "val_fraction" in tc:
        exact = _reproduce(X, ds.y, info, tc, anomaly_class)
        if exact is not None:
            return exact
    return _random_split(X, ds.y, ds.name, source, anomaly_class, holdout_fraction, seed)


def _random_split(
    X: np.ndarray,
    y_raw: np.ndarray | None,
    name: str,
    source: str,
    anomaly_class: int | None,
    holdout_fraction: float,
    seed: int,
) -> RowSplit:
    """A seeded random split of DATA rows ``X``: normal rows (all rows when unlabelled) train, the rest held out."""
    unlabelled = y_raw is None or (anomaly_class is None and not is_binary(y_raw))  # described without labels
    y = None if unlabelled else binary_labels(y_raw, anomaly_class, require_class=False)
    rng = np.random.default_rng(seed)
    normal = rng.permutation(np.flatnonzero(y == 0) if y is not None else np.arange(len(X)))
    n_hold = max(1, math.floor(len(normal) * holdout_fraction))
    if len(normal) - n_hold < 2:
        raise InvalidInputError(f"{source}: only {len(normal)} normal rows; too few to fit PCA and hold rows out.")
    train_idx, hold_idx = normal[n_hold:], normal[:n_hold]
    if y is not None:
        hold_idx = np.concatenate([hold_idx, np.flatnonzero(y == 1)])
    return RowSplit(
        X[train_idx],
        X[hold_idx],
        None if y is None else y[hold_idx],
        f"{name}: random split (seed {seed}): {len(train_idx)} training rows (normal only when "
        f"labelled), {len(hold_idx)} held out; the bundle's own training rows are not known, "
        "so held-out rows may include rows it was trained on",
        False,
    )


def _reproduce(
    X: np.ndarray, y_raw: np.ndarray | None, info: dict[str, Any], tc: dict[str, Any], anomaly_class: int | None
) -> RowSplit | None:
    from ..data import make_split

    seed, vf = int(tc.get("seed", 0)), float(tc["val_fraction"])
    if "train_rows" in info and anomaly_class is not None and y_raw is not None:  # `aeexport run`
        y = binary_labels(y_raw, anomaly_class, require_class=False)
        for tf in (0.2,):  # run_pipeline's test fraction
            s = make_split(X, y, val_fraction=vf, test_fraction=tf, seed=seed)
            if (len(s.train), len(s.val), 0 if s.test is None else len(s.test)) == (
                info["train_rows"],
                info["val_rows"],
                info["test_rows"],
            ) and s.test is not None:
                return RowSplit(
                    s.train,
                    s.test,
                    s.y_test,
                    f"{info['source']}: the bundle's own split, reproduced (seed {seed}): "
                    f"{len(s.train)} training rows, {len(s.test)} held-out test rows "
                    f"(class {anomaly_class} = anomaly, never trained on)",
                    True,
                )
        return None
    if "train_rows" not in info:  # `aeexport train`: all rows, no labels
        s = make_split(X, None, val_fraction=vf, seed=seed)
        return RowSplit(
            s.train,
            s.val,
            None,
            f"{info['source']}: the bundle's own split, reproduced (seed {seed}): {len(s.train)} "
            f"training rows, {len(s.val)} held-out validation rows",
            True,
        )
    return None


def compare_pca_bundle(
    bundle: str | Path,
    data: str,
    *,
    label_column: str | None = None,
    anomaly_class: int | None = None,
    holdout_fraction: float = 0.2,
    seed: int = 0,
    providers: Any = "cpu",
    header: bool | None = None,
) -> dict[str, Any]:
    """:func:`compare_pca` of ``bundle`` on DATA, split by :func:`bundle_split`; held-out normal rows only."""
    import aeruntime

    model = aeruntime.load(bundle, providers=providers)
    split = bundle_split(
        model.manifest,
        data,
        tuple(model.input_shape),
        label_column=label_column,
        anomaly_class=anomaly_class,
        holdout_fraction=holdout_fraction,
        seed=seed,
        header=header,
    )
    test = split.heldout if split.y_heldout is None else split.heldout[split.y_heldout == 0]
    report = compare_pca(model, split.train, test, seed=seed)
    report.update(
        {
            "bundle": str(bundle),
            "data": str(data),
            "rows_from": split.how,
            "exact_split": split.exact,
            "heldout": "normal rows" if split.y_heldout is not None else "all held-out rows",
        }
    )
    return report


def format_comparison(r: dict[str, Any]) -> str:
    """The comparison as a fixed-width text table."""
    head = (
        f"autoencoder vs PCA at code size {r['code_size']} ({r['n_features']} features): fitted on "
        f"{r['train_rows']} rows, measured on {r['test_rows']} held-out rows"
    )
    lines = [head, f"{'method':<14} {'MSE raw':>12} {'MSE scaled':>12} {'expl. var':>10}"]
    for name in ("autoencoder", "pca"):
        m = r[name]
        label = name if name == "autoencoder" else f"pca ({r['pca_components']})"
        lines.append(f"{label:<14} {m['mse_raw']:>12.5g} {m['mse_scaled']:>12.5g} {m['explained_variance']:>10.4f}")
    lines.append(f"AE / PCA scaled MSE: {r['mse_ratio_ae_to_pca']:.3f} -> {r['winner']} reconstructs better")
    if "rows_from" in r:
        lines.append(f"rows: {r['rows_from']}")
    return "\n".join(lines)
