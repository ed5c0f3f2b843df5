"""The loaded bundle: encode, decode, reconstruct, score, predict.

Scoring is a pure function of (bundle, array): ``score`` runs the fused
``scorer.onnx`` graph in one onnxruntime call, with the scaler inside the graph,
so the same bundle gives the same scores in a notebook, a service or a Spark UDF.
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ._ort import ort
from .bundle import GRAPH_FILES, META_PREFIX, read_manifest, verify_files
from .errors import BundleNotFoundError, IntegrityError, InvalidInputError
from .providers import ProviderSpec, check_providers, resolve_providers
from .validate import as_batch

__all__ = ["Model", "load"]


def _check_threshold(value: Any) -> float:
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"threshold must be a finite number, got {value!r}; pass e.g. threshold=0.5."
        ) from None
    if not math.isfinite(t):
        raise InvalidInputError(
            f"threshold must be a finite number, got {t}; pass a value on the bundle's score scale "
            "(see model.manifest['threshold']['stats'])."
        )
    return t


class Model:
    """An exported autoencoder bundle, ready to run on onnxruntime.

    Use :func:`aeruntime.load` to create one. All array methods take and return
    numpy arrays; inputs are validated and cast once to float32.

    Attributes
    ----------
    kind : str
        Model kind from the manifest (``"dense"``, ``"conv"``, ...).
    input_shape : tuple of int
        Shape of one input row, e.g. ``(64,)`` or ``(1, 8, 8)``.
    latent_shape : tuple of int
        Shape of one latent code, e.g. ``(16,)``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        providers: ProviderSpec = "auto",
        threshold: float | None = None,
        verify: bool = True,
        threads: int | None = None,
        session_options: Any | None = None,
    ) -> None:
        self.path = Path(path)
        manifest = read_manifest(self.path)
        if verify:
            verify_files(self.path, manifest)
        self._manifest = manifest
        self.kind: str = str(manifest["model"].get("kind", "unknown"))
        self.input_shape: tuple[int, ...] = tuple(int(d) for d in manifest["input"]["shape"])
        self.latent_shape: tuple[int, ...] = tuple(int(d) for d in manifest["latent"]["shape"])
        self._graphs: dict[str, dict[str, Any]] = manifest["graphs"]
        self._threshold = _check_threshold(
            manifest["threshold"].get("value") if threshold is None else threshold
        )
        self._mode, self._provider_list = resolve_providers(providers)
        if session_options is None:
            session_options = ort.SessionOptions()
            if threads is not None:
                session_options.intra_op_num_threads = int(threads)
        self._options = session_options
        self._sessions: dict[str, Any] = {}
        self._lock = threading.Lock()
        # The scorer (or the encoder, for bundles without one) is created now so
        # that `providers` reports a real session; the others on first use.
        first = "scorer" if "scorer" in self._graphs else "encoder"
        self._providers = check_providers(self._session(first), self._mode)
        self._score_fn: Callable[[np.ndarray], np.ndarray] = (
            self._make_runner("scorer") if "scorer" in self._graphs else self._score_composed
        )

    # ------------------------------------------------------------------ sessions
    def _session(self, role: str) -> Any:
        sess = self._sessions.get(role)
        if sess is not None:
            return sess
        with self._lock:
            sess = self._sessions.get(role)
            if sess is not None:
                return sess
            info = self._graphs.get(role)
            if info is None:
                raise BundleNotFoundError(
                    f"this bundle has no {role} graph (graphs: {sorted(self._graphs)}); "
                    "re-export it with a current aeexport."
                )
            path = self.path / info.get("file", GRAPH_FILES[role])
            if not path.is_file():
                raise BundleNotFoundError(
                    f"bundle file {str(path)!r} is missing; copy the complete bundle directory or re-export it."
                )
            sess = ort.InferenceSession(str(path), sess_options=self._options, providers=self._provider_list)
            meta = sess.get_modelmeta().custom_metadata_map
            got = meta.get(META_PREFIX + "bundle_id")
            if got != self._manifest["bundle_id"]:
                raise IntegrityError(
                    f"{path.name} belongs to bundle {got!r}, but manifest.json describes bundle "
                    f"{self._manifest['bundle_id']!r}: graphs from different exports were mixed. "
                    "Copy all files of one bundle together, or re-export."
                )
            if self._sessions:  # later sessions must agree with the first one
                check_providers(sess, self._mode)
            self._sessions[role] = sess
            return sess

    def _make_runner(self, role: str) -> Callable[[np.ndarray], np.ndarray]:
        sess = self._session(role)
        run = sess.run
        out = [self._graphs[role]["outputs"][0]]
        inp = self._graphs[role]["inputs"][0]

        def runner(x: np.ndarray) -> np.ndarray:
            return run(out, {inp: x})[0]

        return runner

    def _run(self, role: str, x: np.ndarray) -> list[np.ndarray]:
        sess = self._session(role)
        info = self._graphs[role]
        return sess.run(list(info["outputs"]), {info["inputs"][0]: x})

    # ------------------------------------------------------------------ public API
    @property
    def threshold(self) -> float:
        """Score above which :meth:`predict` labels a row as an anomaly."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._threshold = _check_threshold(value)

    @property
    def providers(self) -> list[str]:
        """Execution providers the sessions really run on (``session.get_providers()``)."""
        return list(self._providers)

    @property
    def manifest(self) -> dict[str, Any]:
        """A copy of the bundle's ``manifest.json``."""
        return copy.deepcopy(self._manifest)

    def encode(self, x: Any) -> np.ndarray:
        """Latent codes of raw rows.

        Parameters
        ----------
        x : array-like of shape (n_rows, *input_shape)

        Returns
        -------
        ndarray of shape (n_rows, *latent_shape), float32
            For a variational model, the posterior mean.
        """
        return self._run("encoder", as_batch(x, self.input_shape))[0]

    def decode(self, z: Any) -> np.ndarray:
        """Reconstructions, in raw feature units, of latent codes.

        Parameters
        ----------
        z : array-like of shape (n_rows, *latent_shape)

        Returns
        -------
        ndarray of shape (n_rows, *input_shape), float32
        """
        return self._run("decoder", as_batch(z, self.latent_shape, name="Z"))[0]

    def reconstruct(self, x: Any) -> np.ndarray:
        """``decode(encode(x))``: reconstructions of raw rows in raw feature units.

        Parameters
        ----------
        x : array-like of shape (n_rows, *input_shape)

        Returns
        -------
        ndarray of shape (n_rows, *input_shape), float32
        """
        z = self._run("encoder", as_batch(x, self.input_shape))[0]
        return self._run("decoder", z)[0]

    def _score_composed(self, x: np.ndarray) -> np.ndarray:
        # Bundles without scorer.onnx: the same definition, in numpy.
        scale = np.asarray(self._manifest["scaler"]["scale"], dtype=np.float32)
        err = ((x - self.reconstruct(x)) / scale) ** 2
        return err.reshape(len(x), -1).mean(axis=1)

    def score(self, x: Any) -> np.ndarray:
        """Anomaly score of each row: **higher = more anomalous**.

        The score is defined in the manifest (``score``); by default the mean
        squared reconstruction error in the scaled space the model was trained in.
        One onnxruntime call on ``scorer.onnx``.

        Parameters
        ----------
        x : array-like of shape (n_rows, *input_shape)
            Raw rows (float32 or float64; cast once to float32).

        Returns
        -------
        ndarray of shape (n_rows,), float32
        """
        return self._score_fn(as_batch(x, self.input_shape))

    def predict(self, x: Any) -> np.ndarray:
        """Anomaly labels: 1 = anomaly (``score > threshold``), 0 = normal.

        Parameters
        ----------
        x : array-like of shape (n_rows, *input_shape)

        Returns
        -------
        ndarray of shape (n_rows,), int8
        """
        return (self.score(x) > self._threshold).astype(np.int8)

    def feature_errors(self, x: Any) -> np.ndarray:
        """Per-feature errors (n_rows, *input_shape) whose row mean is the score; see :mod:`aeruntime.explain`."""
        from .explain import feature_errors

        return feature_errors(self, x)

    def explain(self, x: Any, top_k: int = 3, feature_names: Any = None) -> Any:
        """The ``top_k`` features contributing most to each row's score (an :class:`~aeruntime.explain.Explanation`).

        Parameters
        ----------
        x : array-like of shape (n_rows, *input_shape)
        top_k : int, default 3
        feature_names : sequence of str, optional
        """
        from .explain import explain

        return explain(self, x, top_k, feature_names)

    def info(self) -> dict[str, Any]:
        """A short, JSON-serializable summary of the bundle."""
        m = self._manifest
        return {
            "path": str(self.path),
            "format_version": m["format_version"],
            "bundle_id": m["bundle_id"],
            "kind": self.kind,
            "input_shape": list(self.input_shape),
            "latent_shape": list(self.latent_shape),
            "score": m["score"].get("name"),
            "threshold": self._threshold,
            "threshold_method": m["threshold"].get("method"),
            "graphs": sorted(self._graphs),
            "providers": self.providers,
            "parity_ok": (m.get("parity") or {}).get("ok"),
        }

    def __repr__(self) -> str:
        return (
            f"aeruntime.Model(path={str(self.path)!r}, kind={self.kind!r}, "
            f"input_shape={self.input_shape}, threshold={self._threshold:.6g}, providers={self.providers})"
        )


def load(
    path: str | Path,
    providers: ProviderSpec = "auto",
    *,
    threshold: float | None = None,
    verify: bool = True,
    threads: int | None = None,
    session_options: Any | None = None,
) -> Model:
    """Load a bundle directory.

    Parameters
    ----------
    path : str or Path
        Bundle directory written by ``aeexport export``.
    providers : {"auto", "cpu", "cuda"} or list
        Where to run; see :mod:`aeruntime.providers`. ``model.providers`` reports
        what the sessions really run on.
    threshold : float, optional
        Overrides the calibrated threshold stored in the manifest.
    verify : bool, default True
        Check the sha256 of every bundle file against the manifest. ``False``
        skips the hashing (faster loads of large bundles you trust).
    threads : int, optional
        onnxruntime intra-op threads (default: onnxruntime's choice).
    session_options : onnxruntime.SessionOptions, optional
        Passed to every session as is (``threads`` is then ignored).
    """
    return Model(
        path,
        providers=providers,
        threshold=threshold,
        verify=verify,
        threads=threads,
        session_options=session_options,
    )
