"""The conformance corpus in the Python consumers: aeruntime (load, score CLI, verify) and ``aeexport verify``.

Each bundle case of :data:`tests.conformance.corpus.BUNDLE_CASES` is refused with its error
class (:func:`~tests.conformance.corpus.refusal`), exit 1 and one ``Error:`` line (never "this is
a bug"), or accepted with the base bundle's scores; special files (FIFOs, ``/dev/zero``) run in
a subprocess with a timeout, since a reader that opened them would block. Each CSV case gives
``aeruntime score`` exactly :data:`~tests.conformance.corpus.CSV_ROWS` rows, the scores of the
same rows read by numpy, or a one-line refusal with exit 2. The table of ``SECURITY.md``
lists this file's consumers.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import aeruntime
from aeruntime import errors
from tests.conftest import SUBPROCESS_ENV

from .corpus import BASE, BUNDLE_CASES, CSV_CASES, CSV_ROWS, forged, refusal

BUG = "this is a bug"
ROWS = np.random.default_rng(3).integers(0, 17, (5, 64)).astype(np.float32)


def test_the_corpus_has_every_case_with_its_outcome():
    assert len(BUNDLE_CASES) + len(CSV_CASES) >= 80
    assert len({c.name for c in BUNDLE_CASES}) == len(BUNDLE_CASES)
    assert set(CSV_ROWS) == set(CSV_CASES)


def _cli(consumer: str, root, tmp_path) -> tuple[int, str]:
    """(exit code, stdout + stderr) of one consumer on the bundle ``root``."""
    rows = tmp_path / "rows.npy"
    np.save(rows, ROWS)
    args = {
        "aeruntime-score": ["-m", "aeruntime", "score", str(root), str(rows)],
        "aeruntime-verify": ["-m", "aeruntime", "verify", str(root)],
        "aeexport-verify": ["-m", "aeexport", "verify", str(root)],
    }[consumer]
    special = not next(c for c in BUNDLE_CASES if c.name == root.name).web
    if special:  # a FIFO or a device: a subprocess, killed if it blocks
        r = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=240, env=SUBPROCESS_ENV)
        return r.returncode, r.stdout + r.stderr
    if consumer.startswith("aeexport"):
        from aeexport.cli import main
    else:
        from aeruntime.cli import main
    r = CliRunner().invoke(main, args[2:])
    return r.exit_code, r.output


@pytest.mark.parametrize("consumer", ["aeruntime-score", "aeruntime-verify", "aeexport-verify"])
@pytest.mark.parametrize("case", BUNDLE_CASES, ids=lambda c: c.name)
def test_a_forged_bundle_gets_its_outcome(case, consumer, tmp_path):
    root = forged(case, tmp_path)
    expected = refusal(case)
    if case.golden and consumer == "aeruntime-score":
        expected = None  # scoring never reads the golden vectors
    if expected is not None and consumer == "aeruntime-score" and case.web:
        with pytest.raises(getattr(errors, expected)):
            aeruntime.load(root, providers="cpu")
    code, out = _cli(consumer, root, tmp_path)
    assert BUG not in out and "Traceback" not in out, out
    if expected is None:
        assert code == 0, out
        if consumer == "aeruntime-score":
            got = np.array([float(ln.split(",")[0]) for ln in out.strip().splitlines()[1:]])
            np.testing.assert_allclose(got, aeruntime.load(BASE, providers="cpu").score(ROWS), rtol=1e-6)
    else:
        errs = [ln for ln in out.splitlines() if ln.startswith("Error:")]
        assert code == 1 and len(errs) == 1, out


@pytest.mark.parametrize("name", sorted(CSV_CASES))
def test_a_csv_dialect_gets_its_row_count(name, tmp_path):
    from aeruntime.cli import main

    path = tmp_path / f"{name}.csv"
    path.write_bytes(CSV_CASES[name])
    r = CliRunner().invoke(main, ["score", str(BASE), str(path)])
    assert BUG not in r.output and "Traceback" not in r.output, r.output
    if CSV_ROWS[name] < 0:
        assert r.exit_code == 2, r.output
        assert len([ln for ln in r.stderr.splitlines() if ln.startswith("Error:")]) == 1, r.stderr
        return
    assert r.exit_code == 0, r.output
    got = np.array([float(ln.split(",")[0]) for ln in r.stdout.strip().splitlines()[1:]])
    assert len(got) == CSV_ROWS[name]
    want = aeruntime.load(BASE, providers="cpu").score(_numpy_rows(CSV_CASES[name], CSV_ROWS[name]))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def _numpy_rows(data: bytes, n: int) -> np.ndarray:
    """The last ``n`` non-empty lines as numbers, parsed by numpy (the reference reader)."""
    text = data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    lines = [ln for ln in text.split("\n") if ln.strip()][-n:]
    return np.array([[float(v.strip().strip('"')) for v in ln.split(",")] for ln in lines], np.float32)
