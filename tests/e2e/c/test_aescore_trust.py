"""The C consumer's graph checks (examples/c/onnxcheck.c) on the shared hostile corpus (issue 32).

``aescore`` loads one graph, the scorer, and reads no manifest: it checks that graph's operators and
structure before onnxruntime sees it (refusal: one line, exit 1, as ``aeruntime``'s
``UnsafeBundleError``). Every bundle case of ``tests/conformance/corpus.py`` is run through it, with the
outcome in :data:`C_OUTCOME`; where that differs from aeruntime's the reason is given there and in
``SECURITY.md``'s C table. The structure cases the corpus puts in the encoder or decoder are repeated on
the scorer (:data:`SCORER_CASES`), where C must refuse them as aeruntime does.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conformance.corpus import (
    BUNDLE_CASES,
    BundleCase,
    _custom_domain,
    _external,
    _function,
    _graph,
    _if,
    _lying_tensor,
    forged,
)
from tests.conftest import BIN, ROOT, SUBPROCESS_ENV

#: why C accepts a case aeruntime refuses (None: C does as aeruntime does)
NOT_LOADED = "C loads only the scorer graph: this file never reaches onnxruntime"
NO_MANIFEST = "C reads no manifest.json (no JSON parser): hashes and manifest agreement are the deployer's"
#: case name -> (C's exit code, a fragment of its message or the reason it differs from aeruntime)
C_OUTCOME: dict[str, tuple[int, str]] = {
    "loop": (1, "node 'forever' (op 'Loop') holds a subgraph"),
    "if": (0, NOT_LOADED),
    "scan": (1, "node 'scan' (op 'Scan') holds a subgraph"),
    "custom-domain": (0, NOT_LOADED),
    "op-outside-the-list": (
        1,
        "node 'spare_identity' (op 'Identity', domain '') is an operator aeexport does not emit",
    ),
    "function": (0, NOT_LOADED),
    "external-data": (0, NOT_LOADED),
    "lying-value-shape": (1, "declares value 'huge' of 2 dims"),
    "lying-tensor-size": (0, NOT_LOADED),
    "ort-format-scorer": (1, "malformed protobuf in the graph"),
    "threshold-in-manifest-only": (0, NO_MANIFEST),
    "threshold-in-one-graph": (0, NOT_LOADED),
    "kind-disagrees": (0, NO_MANIFEST),
    "score-disagrees": (0, NO_MANIFEST),
    "input-shape-disagrees": (0, NOT_LOADED),
    "min-onnxruntime-in-one-graph": (0, NO_MANIFEST),
    "partner-missing": (0, NO_MANIFEST),
    "listed-path-outside": (0, NO_MANIFEST),
    "duplicate-key-in-manifest": (0, NO_MANIFEST),
    "number-beyond-float64-in-manifest": (0, NO_MANIFEST),
    "symlink-outside": (0, NOT_LOADED),
    "symlink-dev-zero": (0, NOT_LOADED),
    "fifo-graph": (0, NOT_LOADED),
    "unlisted-fifo-and-junk": (0, "accepted, as by aeruntime: unlisted files are never opened"),
}


def _scorer_symlink(root: Path) -> None:
    """scorer.onnx a symlink to the same bytes outside the bundle (every hash still matches)."""
    outside = root.parent / f"{root.name}-scorer-outside.onnx"
    shutil.move(root / "scorer.onnx", outside)
    (root / "scorer.onnx").symlink_to(outside)


#: the corpus's encoder/decoder structure edits, on the graph C runs
SCORER_CASES = [
    BundleCase("scorer-if", _graph("scorer", _if), "UNSAFE"),
    BundleCase("scorer-custom-domain", _graph("scorer", _custom_domain), "UNSAFE"),
    BundleCase("scorer-function", _graph("scorer", _function), "UNSAFE"),
    BundleCase("scorer-external-data", _graph("scorer", _external), "UNSAFE"),
    BundleCase("scorer-lying-tensor-size", _graph("scorer", _lying_tensor), "UNSAFE"),
    BundleCase("scorer-symlink-outside", _scorer_symlink, "UNSAFE"),
]


SCORER_MESSAGES = {
    "scorer-symlink-outside": "not a regular file of at most 2147483647 bytes (a symlink, FIFO or device is refused)",
    "scorer-if": "node 'fork' (op 'If') holds a subgraph",
    "scorer-custom-domain": "imports opset domain 'com.evil'",
    "scorer-function": "holds model-local functions",
    "scorer-external-data": "tensor 'outside' points to external data",
    "scorer-lying-tensor-size": "tensor 'big' declares 1073741824 elements but holds 4 bytes",
}


def test_ops_header_is_generated_from_aeruntimes_allow_list():
    """ops.h is what examples/c/gen_ops.py prints from aeruntime.format.ops.ALLOWED_OPS: the lists cannot drift."""
    spec = importlib.util.spec_from_file_location("gen_ops", ROOT / "examples" / "c" / "gen_ops.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    from aeruntime.format.ops import ALLOWED_OPS

    header = (ROOT / "examples" / "c" / "ops.h").read_text()
    assert header == gen.render()
    assert set(re.findall(r'^    "(\w+)",$', header, re.M)) == set(ALLOWED_OPS[""]) and set(ALLOWED_OPS) == {""}


@pytest.fixture(scope="module")
def rows_csv(consumer) -> str:
    path = consumer.work / "corpus-rows.csv"
    np.savetxt(path, np.random.default_rng(0).integers(0, 17, (5, 64)), delimiter=",", fmt="%d")
    return str(path)


def _aeruntime_code(bundle, rows) -> int:
    r = subprocess.run(
        [str(BIN / "aeruntime"), "score", str(bundle), rows, "--out", str(bundle.parent / f"{bundle.name}.csv")],
        capture_output=True,
        text=True,
        env=SUBPROCESS_ENV,
        timeout=120,
    )
    return r.returncode


#: the corpus cases C runs: the first 24 (the corpus has grown since; SECURITY.md says which C does not run yet)
C_CASES = [c for c in BUNDLE_CASES if c.name in C_OUTCOME]


def test_the_table_covers_the_corpus():
    assert set(C_OUTCOME) <= {c.name for c in BUNDLE_CASES}  # every row of the table is a corpus case
    assert len(C_CASES) == len(C_OUTCOME)


@pytest.mark.parametrize("case", C_CASES, ids=lambda c: c.name)
def test_corpus_case(consumer, rows_csv, case):
    bundle = forged(case, consumer.work / "corpus")
    code, why = C_OUTCOME[case.name]
    r = consumer.run(bundle, rows_csv)
    assert r.returncode == code, r.stderr
    if code:
        assert r.stderr.startswith(f"error: {bundle}/scorer.onnx: ") and "\n" not in r.stderr, r.stderr
        assert why in r.stderr and "Re-export the bundle with aeexport" in r.stderr, r.stderr
        assert r.stdout == ""
    else:
        assert len(r.stdout.splitlines()) == 6  # scored: the header and five rows
    if case.vs_aeruntime:
        theirs = _aeruntime_code(bundle, rows_csv)
        # the same outcome, or aeruntime refuses (exit 1) for a reason C documents (a file C does not load)
        assert theirs == code or (theirs == 1 and code == 0 and why in (NOT_LOADED, NO_MANIFEST)), (theirs, r.stderr)


@pytest.mark.parametrize("case", SCORER_CASES, ids=lambda c: c.name)
def test_structure_edits_on_the_scorer_are_refused_as_aeruntime_does(consumer, rows_csv, case):
    bundle = forged(case, consumer.work / "corpus")
    r = consumer.run(bundle, rows_csv)
    assert r.returncode == 1 == _aeruntime_code(bundle, rows_csv), r.stderr
    assert r.stderr.startswith(f"error: {bundle}/scorer.onnx: ") and "\n" not in r.stderr, r.stderr
    assert SCORER_MESSAGES[case.name] in r.stderr, r.stderr


@pytest.mark.parametrize("name", ["loop", "scorer-external-data"])
def test_refusals_are_valgrind_clean(consumer, rows_csv, name):
    case = next(c for c in [*BUNDLE_CASES, *SCORER_CASES] if c.name == name)
    bundle = forged(case, consumer.work / "corpus-vg")
    r = consumer.run(bundle, rows_csv, valgrind=True)
    assert r.returncode == 1 and r.stderr.startswith("error: ") and "\n" not in r.stderr, r.stderr
