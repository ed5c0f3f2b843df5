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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import decisions
from . import explain as _explain
from ._ort import ort
from .errors import BundleNotFoundError, InvalidInputError
from .format import DEFAULT_SCORE, check_threshold, get_score, read_bundle
from .format.compat import check_installed, minimum_for_graphs
from .providers import CPU, CUDA, ProviderSpec, check_providers, resolve_providers
from .sampling import is_variational, prior_sample, reparameterize
from .sessions import check_session, create_session, make_runner
from .sessions import session_options as default_session_options
from .validation import as_batch, check_scores

__all__ = ["LoadOptions", "Model", "load"]

#: compatibility name (the rule lives in aeruntime.format.scores)
_check_threshold = check_threshold


@dataclass(frozen=True)
class LoadOptions:
    """How :func:`load` opens a bundle (see its docstring for each option)."""

    providers: ProviderSpec = "auto"  # "auto", "cpu", "cuda" or an onnxruntime providers list
    threshold: float | None = None  # overrides the calibrated threshold
    verify: bool = True  # hash every file and graph body against the manifest
    threads: int | None = None  # onnxruntime intra-op threads; None: the CPUs this process may use
    session_options: Any | None = None  # onnxruntime.SessionOptions for every session (threads ignored)


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

    def __init__(self, path: str | Path, options: LoadOptions | None = None) -> None:
        opts = options or LoadOptions()
        self.path = Path(path)
        # Every graph is read once, scanned and cross-checked now (file hash, metadata,
        # partners, external data), before onnxruntime parses any of them; the checked
        # bytes are what the sessions are created from (aeruntime.format.graphs).
        manifest, self._graph_bytes = read_bundle(self.path, verify=opts.verify)
        self._manifest = manifest
        check_installed(manifest, ort.__version__)
        self.kind: str = str(manifest["model"].get("kind", "unknown"))
        self.input_shape: tuple[int, ...] = tuple(int(d) for d in manifest["input"]["shape"])
        self.latent_shape: tuple[int, ...] = tuple(int(d) for d in manifest["latent"]["shape"])
        self._graphs: dict[str, dict[str, Any]] = manifest["graphs"]
        self._threshold = check_threshold(
            manifest["threshold"].get("value") if opts.threshold is None else opts.threshold,
            manifest["score"].get("name"),
        )
        self._mode, self._provider_list = resolve_providers(opts.providers)
        self._options = default_session_options(opts.threads) if opts.session_options is None else opts.session_options
        # Large batches are scored in chunks of about 4 MB of input so that the graph's
        # intermediates stay in cache (measured +40% rows/s at 65,536 x 64 on 2 vCPUs).
        self._chunk_rows = max(1024, (4 << 20) // (4 * math.prod(self.input_shape)))
        self._sessions: dict[str, Any] = {}
        self._lock = threading.Lock()
        # The scorer (or the encoder, for bundles without one) is created now so
        # that `providers` reports a real session; the others on first use.
        first = "scorer" if "scorer" in self._graphs else "encoder"
        graph = self._graph_bytes.get("scorer")  # a decision scorer's calibration scores (operating_point)
        self._calibration = None if graph is None else decisions.calibration_scores(manifest, graph)
        self._providers = check_providers(self._session(first), self._mode)
        if self._mode == "auto" and CUDA not in self._providers:
            self._provider_list = [CPU]  # "auto" settled on CPU: later sessions do not retry CUDA
        if "scorer" in self._graphs:
            info = self._graphs["scorer"]
            self._score_fn: Callable[[np.ndarray], np.ndarray] = make_runner(
                self._session("scorer"), info["inputs"][0], info["outputs"][0]
            )
        else:  # docs/bundle-format.md section 6: the manifest's score, from encoder + decoder
            self._score_spec = get_score(manifest["score"].get("name", DEFAULT_SCORE))
            self._score_fn = self._score_composed
        # a decision scorer (label, p_value): its calibration size, else None; a damaged section is refused now
        self._calibration_n = decisions.decision_calibration(manifest)
        if self._calibration_n is not None:
            decisions.threshold_input(manifest)

    # ------------------------------------------------------------------ sessions
    def _session(self, role: str) -> Any:
        sess = self._sessions.get(role)
        if sess is not None:
            return sess
        with self._lock:
            sess = self._sessions.get(role)
            if sess is not None:
                return sess
            if role not in self._graphs:
                raise BundleNotFoundError(
                    f"this bundle has no {role} graph (graphs: {sorted(self._graphs)}); "
                    "re-export it with a current aeexport."
                )
            name = Path(self._graphs[role]["file"]).name
            # The checked bytes are what onnxruntime parses (no re-read, no external data).
            sess = create_session(self._graph_bytes[role], name, self._options, self._provider_list, self._mode)
            check_session(sess, role, self._manifest, name)
            if self._sessions:  # later sessions must agree with the first one
                check_providers(sess, self._mode)
            self._sessions[role] = sess
            del self._graph_bytes[role]  # onnxruntime holds its own copy now
            return sess

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
        self._threshold = check_threshold(value, self._manifest["score"].get("name"))

    @property
    def providers(self) -> list[str]:
        """Execution providers the sessions really run on (``session.get_providers()``)."""
        return list(self._providers)

    @property
    def manifest(self) -> dict[str, Any]:
        """A copy of the bundle's ``manifest.json``."""
        return copy.deepcopy(self._manifest)

    @property
    def feature_names(self) -> list[str] | None:
        """Names of the input features in order (``manifest["input"]["feature_names"]``), or None.

        Set when the training data had column names (CSV, Parquet); table readers
        then select and order columns by these names.
        """
        names = self._manifest["input"].get("feature_names")
        return list(names) if names is not None else None

    @property
    def is_variational(self) -> bool:
        """True if the encoder outputs ``mu`` and ``logvar`` (read from the manifest, whatever the kind)."""
        return is_variational(list(self._graphs["encoder"]["outputs"]))

    def _require_variational(self, what: str) -> None:
        if not self.is_variational:
            raise InvalidInputError(
                f"{what} needs a variational bundle (encoder outputs mu and logvar), but this {self.kind!r} "
                f"bundle's encoder outputs {list(self._graphs['encoder']['outputs'])}; export a 'vae' model."
            )

    def encode(self, x: Any, *, sample: bool = False, seed: int | None = None) -> np.ndarray:
        """Latent codes of raw rows.

        Parameters
        ----------
        x : array-like of shape (n_rows, *input_shape)
        sample : bool, default False
            Variational bundles only: draw ``z = mu + exp(logvar / 2) * eps`` with
            ``eps ~ N(0, I)`` instead of returning the posterior mean.
        seed : int, required with ``sample=True``
            Seeds numpy's ``default_rng``; same seed, same draws.

        Returns
        -------
        ndarray of shape (n_rows, *latent_shape), float32
            For a variational model, the posterior mean (or a draw with ``sample=True``).
        """
        if not sample:
            return self._run("encoder", as_batch(x, self.input_shape))[0]
        self._require_variational("encode(x, sample=True)")
        mu, logvar = self.posterior(x)
        return reparameterize(mu, logvar, seed)  # type: ignore[arg-type]

    def posterior(self, x: Any) -> tuple[np.ndarray, np.ndarray]:
        """Variational bundles: ``(mu, logvar)`` of q(z | x), each of shape (n_rows, *latent_shape)."""
        self._require_variational("posterior(x)")
        mu, logvar = self._run("encoder", as_batch(x, self.input_shape))[:2]
        return mu, logvar

    def sample(self, n: int, seed: int) -> np.ndarray:
        """Variational bundles: decode ``n`` draws ``z ~ N(0, I)`` from numpy's ``default_rng(seed)``.

        Returns
        -------
        ndarray of shape (n, *input_shape), float32, in raw feature units
        """
        self._require_variational("sample(n, seed)")
        return self._run("decoder", prior_sample(n, self.latent_shape, seed))[0]

    def denoise(self, x: Any) -> np.ndarray:
        """Reconstruction of noisy raw rows: the model's estimate of the clean rows.

        Meant for ``denoising`` bundles (trained to undo corruption); on any other
        kind it equals :meth:`reconstruct`.

        Parameters
        ----------
        x : array-like of shape (n_rows, *input_shape)

        Returns
        -------
        ndarray of shape (n_rows, *input_shape), float32, raw feature units
        """
        return self.reconstruct(x)

    def decode(self, z: Any) -> np.ndarray:
        """Reconstructions of latent codes ``z`` of shape (n_rows, *latent_shape).

        Returns an ndarray of shape (n_rows, *input_shape), float32, in raw feature units.
        """
        return self._run("decoder", as_batch(z, self.latent_shape, name="Z"))[0]

    def reconstruct(self, x: Any) -> np.ndarray:
        """``decode(encode(x))`` of raw rows ``x`` of shape (n_rows, *input_shape).

        Returns an ndarray of the same shape, float32, in raw feature units.
        """
        z = self._run("encoder", as_batch(x, self.input_shape))[0]
        return self._run("decoder", z)[0]

    def _score_composed(self, x: np.ndarray) -> np.ndarray:
        # Bundles without scorer.onnx: the manifest's score (registry), in numpy.
        enc = self._run("encoder", x)
        x_hat = self._run("decoder", enc[0])[0]
        scale = np.asarray(self._manifest["scaler"]["scale"], dtype=np.float32).reshape(self.input_shape)
        outputs = dict(zip(self._graphs["encoder"]["outputs"], enc))
        return self._score_spec.score_rows((x - x_hat) / scale, outputs).astype(np.float32, copy=False)

    def score(self, x: Any) -> np.ndarray:
        """Anomaly score of each row: **higher = more anomalous**.

        The score is defined in the manifest (``score``); by default the mean
        squared reconstruction error in the scaled space the model was trained in.
        One onnxruntime call on ``scorer.onnx`` (large batches: one call per chunk
        of about 4 MB of input, which keeps the intermediates in cache).

        Parameters
        ----------
        x : array-like of shape (n_rows, *input_shape)
            Raw rows (float32 or float64; cast once to float32).

        Returns
        -------
        ndarray of shape (n_rows,), float32
        """
        arr = as_batch(x, self.input_shape, finite=False)
        n, chunk = len(arr), self._chunk_rows
        if n <= chunk:
            s = self._score_fn(arr)
        else:
            s = np.empty(n, dtype=np.float32)
            for i in range(0, n, chunk):
                s[i : i + chunk] = self._score_fn(arr[i : i + chunk])
        # A NaN/Inf anywhere in a row makes its score non-finite (the score uses the
        # input itself), so checking the n scores replaces checking all n * d inputs;
        # a finite row whose score overflowed is named too (aeruntime.validation).
        if not math.isfinite(s.item() if len(s) == 1 else float(np.add.reduce(s))):
            check_scores(s, arr, scaler=self._manifest.get("scaler"))
        return s

    @property
    def series(self) -> dict[str, Any] | None:
        """A series bundle's ``manifest["series"]`` (window, stride, alarm rule, ...); None for a row bundle."""
        return copy.deepcopy(self._manifest.get("series"))

    def stream(self) -> Any:
        """A :class:`~aeruntime.series.SeriesStream` for a series bundle: ``push(row)`` -> score or None."""
        if self._manifest.get("series") is None:
            raise InvalidInputError(
                f"stream() needs a series bundle (manifest with a 'series' section, input shape [W, C]); "
                f"{str(self.path)!r} scores single rows of shape {self.input_shape}: use score(rows)."
            )
        from .series.stream import SeriesStream

        return SeriesStream(self)

    @property
    def calibration_size(self) -> int | None:
        """How many calibration scores the scorer's p-values are computed from; None for a score-only scorer."""
        return self._calibration_n

    def decide(self, x: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``score`` (float32), ``label`` (bool) and ``p_value`` (float32), each (n_rows,), from the decision
        scorer's own outputs, the threshold fed to its ``threshold`` input (one call per chunk)."""
        decisions.require_decisions(self._calibration_n, "decide()")
        arr = as_batch(x, self.input_shape, finite=False)
        feeds = {decisions.threshold_input(self._manifest): np.asarray(decisions.graph_threshold(self._threshold))}
        inp = self._graphs["scorer"]["inputs"][0]
        s, label, p = decisions.run_decisions(self._session("scorer"), inp, arr, feeds, self._chunk_rows)
        if len(s) and not math.isfinite(float(np.add.reduce(s))):
            check_scores(s, arr, scaler=self._manifest.get("scaler"))
        return s, label, p

    def p_value(self, x: Any) -> np.ndarray:
        """Conformal p-value of each row (float32, (n_rows,)): ``(1 + #{calibration scores >= score}) / (n + 1)``.

        For a normal row like the held-out calibration rows, ``P(p <= a) <= a``: flagging rows with
        ``p <= 0.01`` flags at most 1% of normal rows. Resolution ``1 / (n + 1)``; see :mod:`aeruntime.decisions`.
        """
        decisions.require_decisions(self._calibration_n, "p_value()")
        return self.decide(x)[2]

    def operating_point(self, fpr: float) -> decisions.OperatingPoint:
        """What ``predict(x, fpr=fpr)`` does here: the rank ``m`` among the calibration scores, the score
        threshold (None when the stored scores cannot be read here), the expected false-positive rate ``m / (n + 1)`` and its
        interval (``low``, ``high`` at ``level``: the Beta law of the order statistic, as the manifest's
        ``expected_false_positive_rate_interval``). ``.line()`` says it in one line."""
        n = decisions.require_decisions(self._calibration_n, "operating_point()")
        return decisions.operating_point(fpr, n, self._calibration)

    def predict(self, x: Any, *, fpr: float | None = None, fdr: float | None = None) -> np.ndarray:
        """Anomaly labels: 1 = anomaly, 0 = normal.

        Default: ``score > threshold``. ``fpr``: the rows whose p-value is at most ``fpr`` (the
        threshold at that false-positive rate of the calibration scores; :meth:`operating_point` gives
        that threshold and the interval of the false-positive rate on unseen rows). ``fdr``: Benjamini-Hochberg
        over this batch's p-values, its false-discovery rate controlled at ``fdr``. ``fpr``/``fdr`` need
        a bundle whose scorer outputs ``p_value`` (:mod:`aeruntime.decisions`).

        ``x``: array-like (n_rows, *input_shape); returns int8 (n_rows,).
        """
        what = decisions.check_operating_point(fpr, fdr)  # before any work
        if what is None and self._calibration_n is None:
            return (self.score(x) > self._threshold).astype(np.int8)
        decisions.require_decisions(self._calibration_n, what or "predict()")
        _, label, p = self.decide(x)
        return decisions.choose_labels(label, p, self._calibration_n, fpr, fdr)

    def feature_errors(self, x: Any) -> np.ndarray:
        """Per-feature errors (n_rows, *input_shape) whose row mean is the score; see :mod:`aeruntime.explain`."""
        return _explain.feature_errors(self, x)

    def explain(self, x: Any, top_k: int = 3, feature_names: Any = None) -> Any:
        """The ``top_k`` features contributing most to each row's score (an :class:`~aeruntime.explain.Explanation`).

        Parameters
        ----------
        x : array-like of shape (n_rows, *input_shape)
        top_k : int, default 3
        feature_names : sequence of str, optional
            Default: :attr:`feature_names` (from the manifest), else unnamed.
        """
        return _explain.explain(self, x, top_k, feature_names)

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
            "variational": self.is_variational,
            "providers": self.providers,
            "parity_ok": (m.get("parity") or {}).get("ok"),
            "min_onnxruntime": self._min_onnxruntime(),
            "min_onnxruntime_recorded": m.get("min_onnxruntime") is not None,
        }

    def _min_onnxruntime(self) -> str:
        """The bundle's recorded ``min_onnxruntime``; for a bundle exported before the field,
        the same rule applied to its graph files (``info`` says it was computed)."""
        recorded = self._manifest.get("min_onnxruntime")
        if recorded is not None:
            return recorded
        files = [self.path / g["file"] for g in self._graphs.values()]
        onnx_graphs = [f.read_bytes() for f in files if f.suffix == ".onnx"]
        return minimum_for_graphs(onnx_graphs, ort_format=any(f.suffix == ".ort" for f in files))

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
        Overrides the calibrated threshold stored in the manifest. Must be finite,
        and ``>= 0`` for non-negative scores such as ``"mse"`` (a negative value
        would label every row an anomaly): :class:`InvalidInputError` otherwise.
    verify : bool, default True
        Check the sha256 of every bundle file against the manifest, and hash each
        graph body against the ``graph_sha256`` recorded in the manifest and in its
        partner graphs. ``False`` skips the hashing (faster loads of large bundles
        you trust); the manifest schema, the graph metadata cross-checks (bundle id,
        partners, shapes, names), and the safety checks (no external data, no
        symlinks or paths leaving the bundle) always run.
    threads : int, optional
        onnxruntime intra-op threads (default: the CPUs this process may run on,
        ``len(os.sched_getaffinity(0))``; see :func:`aeruntime.sessions.session_options`).
    session_options : onnxruntime.SessionOptions, optional
        Passed to every session as is (``threads`` is then ignored).
    """
    return Model(path, LoadOptions(providers, threshold, verify, threads, session_options))
