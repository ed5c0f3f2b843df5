"""``aeruntime verify BUNDLE``: a device checks the bundle it holds, torch-free.

The checks, in order (each one is the check :func:`aeruntime.load` runs, reused, so a
bundle that verifies is one that loads):

- ``manifest``: schema, format version, required fields (:func:`aeruntime.format.read_manifest`);
- ``files``: the sha256 of every file the manifest lists (:func:`aeruntime.format.verify_files`);
- ``graphs``: each graph's structure, operator allow-list, shape bounds, metadata, partners and
  threshold agreement (:func:`aeruntime.format.read_graphs`); the manifest threshold's range;
- ``onnxruntime``: the installed version against the bundle's ``min_onnxruntime``;
- ``sessions``: this onnxruntime opens every graph on CPU, with the inputs, outputs and
  bundle id the manifest describes (:func:`aeruntime.sessions.check_session`);
- ``golden``: every golden vector set listed in ``manifest["files"]``
  (``test_data/<graph>/test_data_set_N/{input,output}_K.pb``) run on this machine's
  onnxruntime and compared within ``manifest.golden.tolerances[graph]`` (else
  ``manifest.golden.tolerance``): ``|actual - expected| <= atol + rtol * |expected|``.

A failed check raises the loader's typed error (:class:`~aeruntime.errors.BundleError` and its
subclasses: exit code 1); golden vectors outside the tolerance raise :class:`GoldenMismatchError`
(exit 1) after the report is printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import numpy as np

from .clibase import echo_json, json_option
from .errors import IntegrityError
from .format import check_threshold, golden_sets, read_golden, read_graphs, read_manifest, verify_files

__all__ = ["GoldenMismatchError", "golden_sets", "verify", "verify_bundle"]

#: the fp32 tolerance of bundles that record none
_DEFAULT_TOL = {"atol": 1e-5, "rtol": 1e-4}


class GoldenMismatchError(IntegrityError):
    """This machine's onnxruntime does not reproduce the bundle's golden vectors within its tolerance."""


def _tolerance(manifest: dict[str, Any], role: str) -> dict[str, float]:
    golden = manifest.get("golden") or {}
    tol = (golden.get("tolerances") or {}).get(role) or golden.get("tolerance") or _DEFAULT_TOL
    return {"atol": float(tol["atol"]), "rtol": float(tol["rtol"])}


def _difference(got: np.ndarray, want: np.ndarray, tol: dict[str, float]) -> tuple[float, bool]:
    """(max abs difference, within ``atol + rtol * |want|`` everywhere and finite)."""
    a, e = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if a.shape != e.shape:
        return float("inf"), False
    diff = np.abs(a - e)
    within = bool(np.all(diff <= tol["atol"] + tol["rtol"] * np.abs(e))) and bool(np.isfinite(a).all())
    return (float(diff.max()) if diff.size else 0.0), within


def _golden(root: Path, manifest: dict[str, Any], sessions: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for (role, name), files in golden_sets(manifest).items():
        feeds = dict(read_golden(root, rel) for rel in files["input"])
        expected = [read_golden(root, rel)[1] for rel in files["output"]]
        got = sessions[role].run(None, feeds)
        tol = _tolerance(manifest, role)
        batch = int(next(iter(feeds.values())).shape[0]) if feeds else 0
        for k, (g, e) in enumerate(zip(got, expected)):
            max_abs, ok = _difference(g, e, tol)
            rows.append({"check": f"{role}/{name}/output_{k}", "batch": batch, "max_abs": max_abs, **tol, "ok": ok})
    return rows


def verify_bundle(path: str | Path) -> dict[str, Any]:
    """Run every check on the bundle at ``path`` with this machine's onnxruntime (CPU); return the report.

    Returns
    -------
    dict
        ``bundle``, ``ok``, ``onnxruntime`` (installed), ``min_onnxruntime`` (the bundle's, or None),
        ``checks`` (name, detail), ``golden`` (one row per golden output: check, batch, max_abs,
        atol, rtol, ok).

    Raises
    ------
    BundleError (and subclasses)
        A check other than the golden vectors failed: the loader's error.
    """
    from ._ort import ort
    from .format.compat import check_installed, minimum_for_graphs
    from .format.graphs import graph_format
    from .providers import resolve_providers
    from .sessions import check_session, create_session, session_options

    root = Path(path)
    manifest = read_manifest(root)
    checks = [("manifest", f"format {manifest['format_version']}, kind {manifest['model'].get('kind', 'unknown')}")]
    verify_files(root, manifest)
    checks.append(("files", f"{len(manifest['files'])} file(s), sha256 as recorded"))
    graphs = read_graphs(root, manifest, check_hash=True)
    check_threshold(manifest["threshold"].get("value"), manifest["score"].get("name"))
    checks.append(("graphs", f"{', '.join(graphs)}: structure, operators, metadata, threshold"))
    need = manifest.get("min_onnxruntime")
    source = "manifest min_onnxruntime"
    if need is None:  # bundles from before the field: the minimum their graphs' IR and opsets need
        onnx_graphs = [d for role, d in graphs.items() if not graph_format(manifest["graphs"][role]["file"]).ort_format]
        need, source = minimum_for_graphs(onnx_graphs, ort_format=len(onnx_graphs) < len(graphs)), "from the graphs"
    check_installed({"min_onnxruntime": need}, ort.__version__)
    checks.append(("onnxruntime", f"{ort.__version__} installed; the bundle needs {need} or newer ({source})"))
    mode, providers = resolve_providers("cpu")
    options = session_options(1)
    sessions = {}
    for role, data in graphs.items():
        name = Path(manifest["graphs"][role]["file"]).name
        sessions[role] = create_session(data, name, options, providers, mode)
        check_session(sessions[role], role, manifest, name)
    checks.append(("sessions", f"{len(sessions)} graph(s) open on CPU with the manifest's inputs and outputs"))
    golden = _golden(root, manifest, sessions)
    ok = all(r["ok"] for r in golden)
    n_sets = len({r["check"].rsplit("/", 1)[0] for r in golden})
    checks.append(
        ("golden", f"{n_sets} set(s), {len(golden)} output(s)" if golden else "none in the bundle (nothing compared)")
    )
    return {
        "bundle": str(root),
        "ok": ok,
        "onnxruntime": ort.__version__,
        "min_onnxruntime": need,
        "checks": [{"check": c, "detail": d} for c, d in checks],
        "golden": golden,
    }


def format_report(report: dict[str, Any]) -> str:
    """The report as a fixed-width table."""
    lines = [f"{'check':<12} detail"]
    lines += [f"{c['check']:<12} {c['detail']}" for c in report["checks"]]
    if report["golden"]:
        lines.append("")
        lines.append(f"{'golden output':<40} {'batch':>5} {'max abs':>10} {'atol':>10} {'rtol':>8}  result")
        for r in report["golden"]:
            result = "ok" if r["ok"] else "FAIL"
            lines.append(
                f"{r['check']:<40} {r['batch']:>5} {r['max_abs']:>10.3e} {r['atol']:>10.3g} {r['rtol']:>8.3g}  {result}"
            )
    lines.append(f"verify: {'ok' if report['ok'] else 'FAIL'} ({report['bundle']})")
    return "\n".join(lines)


@click.command(name="verify")
@click.argument("bundle", type=click.Path(file_okay=False))
@json_option()
def verify(bundle: str, as_json: bool) -> None:
    """Check BUNDLE on this machine, without torch: hashes, structure, operators, onnxruntime version, golden vectors.

    Exit 0 when every check passes, 1 when one fails (one line on stderr).
    """
    report = verify_bundle(bundle)
    if as_json:
        echo_json(report)
    else:
        click.echo(format_report(report))
    bad = [r for r in report["golden"] if not r["ok"]]
    if bad:
        from ._ort import ort

        r = bad[0]
        raise GoldenMismatchError(
            f"{bundle}: golden vector {r['check']} differs by {r['max_abs']:.3g} (tolerance atol {r['atol']:g}, "
            f"rtol {r['rtol']:g}; {len(bad)} output(s) outside it): onnxruntime {ort.__version__} on this machine "
            "does not reproduce the bundle's outputs; install the onnxruntime the bundle was verified with, "
            "or re-export the bundle."
        )
