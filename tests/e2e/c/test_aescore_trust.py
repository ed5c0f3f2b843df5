"""The C consumer's graph checks (examples/c/onnxcheck.c) on the shared hostile corpus (issue 32).

``aescore`` loads one graph, the scorer, and reads no manifest: it checks that graph's operators and
structure before onnxruntime sees it (refusal: one line, exit 1, as ``aeruntime``'s
``UnsafeBundleError``). Every bundle case of ``tests/conformance/corpus.py`` is run through it, with the
outcome in :data:`C_OUTCOME` (a test asserts the table has every case); where that differs from
aeruntime's the reason is given there and in ``SECURITY.md``'s C table. The golden-vector cases are run
through ``aescore --check`` too (:data:`CHECK_OUTCOME`), and the edits the corpus makes on another
graph only are repeated on the scorer (:data:`SCORER_CASES`), where C must refuse them as aeruntime does.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import aeruntime
from tests.conformance.corpus import BUNDLE_CASES, BundleCase, _graph, _lying_tensor, forged
from tests.conftest import BIN, ROOT, SUBPROCESS_ENV

#: why C accepts a case aeruntime refuses (None: C does as aeruntime does)
NOT_LOADED = "C loads only the scorer graph: this file never reaches onnxruntime"
NO_MANIFEST = "C reads no manifest.json (no JSON parser): hashes and manifest agreement are the deployer's"
NO_GOLDEN = (
    "C reads golden vectors only with --check (test_check_reads_only_plain_golden_files): scoring never opens them"
)
#: C's reasons for accepting what aeruntime refuses (each one is a row of SECURITY.md's C table)
REASONS = (NOT_LOADED, NO_MANIFEST, NO_GOLDEN)
NOT_REGULAR = "not a regular file of at most 2147483647 bytes (a symlink, FIFO or device is refused)"
#: case name -> (C's exit code when scoring, a fragment of its message or the reason it differs from aeruntime).
#: Every bundle case of the corpus has a row (test_the_table_covers_every_bundle_case).
C_OUTCOME: dict[str, tuple[int, str]] = {
    # the structure of the scorer: refused as aeruntime does
    "loop": (1, "node 'forever' (op 'Loop') holds a subgraph"),
    "scan": (1, "node 'scan' (op 'Scan') holds a subgraph"),
    "op-outside-the-list": (
        1,
        "node 'spare_identity' (op 'Identity', domain '') is an operator aeexport does not emit",
    ),
    "lying-value-shape": (1, "declares value 'huge' of 2 dims"),
    "ort-format-scorer": (1, "malformed protobuf in the graph"),
    "if-in-scorer": (1, "node 'fork' (op 'If') holds a subgraph"),
    "custom-domain-in-scorer": (1, "imports opset domain 'com.evil'"),
    "function-in-scorer": (1, "holds model-local functions"),
    "external-data-in-scorer": (1, "tensor 'outside' points to external data"),
    # scorer.onnx not a regular file: opened with O_NOFOLLOW | O_NONBLOCK, then fstat
    "symlink-dev-zero-scorer": (1, NOT_REGULAR),
    "symlink-to-own-file": (1, NOT_REGULAR),
    # the other graphs and files: C never opens them
    **dict.fromkeys(
        [
            "if",
            "custom-domain",
            "function",
            "external-data",
            "lying-tensor-size",
            "threshold-in-one-graph",
            "input-shape-disagrees",
            "symlink-outside",
            "symlink-dev-zero",
            "fifo-graph",
            "loop-in-encoder",
            "loop-in-decoder",
            "scan-in-encoder",
            "custom-domain-in-encoder",
            "op-outside-the-list-in-encoder",
            "lying-value-shape-in-encoder",
            "lying-tensor-size-in-decoder",
            "ort-format-encoder",
            "ort-format-decoder",
            "symlink-outside-weights",
            "fifo-weights",
            "fifo-decoder",
        ],
        (0, NOT_LOADED),
    ),
    # the manifest, and agreement between it and the graphs: C reads no manifest
    **dict.fromkeys(
        [
            "threshold-in-manifest-only",
            "kind-disagrees",
            "score-disagrees",
            "min-onnxruntime-in-one-graph",
            "partner-missing",
            "listed-path-outside",
            "duplicate-key-in-manifest",
            "number-beyond-float64-in-manifest",
            "threshold-in-scorer-only",
            "duplicate-nested-key-in-manifest",
            "manifest-not-json",
            "manifest-a-json-array",
            "threshold-beyond-float64",
            "threshold-nan-literal",
            "listed-absolute-path",
            "listed-file-hash-mismatch",
        ],
        (0, NO_MANIFEST),
    ),
    # golden vectors: not read when scoring (aeruntime score does not read them either, except to hash them)
    **dict.fromkeys(
        ["malformed-listed-golden", "symlink-outside-golden", "fifo-listed-golden", "symlinked-folder-inside"],
        (0, NO_GOLDEN),
    ),
    "unlisted-fifo-and-junk": (0, "accepted, as by aeruntime: unlisted files are never opened"),
    "unlisted-symlink-in-test-data": (0, "accepted, as by aeruntime: unlisted files are never opened"),
}

#: ``aescore --check`` on the corpus cases that touch golden vectors: (exit code, a fragment of its message)
CHECK_OUTCOME: dict[str, tuple[int, str]] = {
    "malformed-listed-golden": (1, "test_data_set_0/output_0.pb: not a float32 TensorProto"),
    "symlink-outside-golden": (1, "input_0.pb: not a float32 TensorProto: a symbolic link, never followed"),
    "symlinked-folder-inside": (1, "/test_data: not a folder (a symbolic link is never followed"),
    "fifo-listed-golden": (0, "checked 2 golden vector sets"),  # a decoder golden file: C checks the scorer's
    "unlisted-fifo-and-junk": (0, "checked 2 golden vector sets"),  # set 7 (the FIFO) is never reached
    "unlisted-symlink-in-test-data": (0, "checked 2 golden vector sets"),
}


def _scorer_symlink(root: Path) -> None:
    """scorer.onnx a symlink to the same bytes outside the bundle (every hash still matches)."""
    outside = root.parent / f"{root.name}-scorer-outside.onnx"
    shutil.move(root / "scorer.onnx", outside)
    (root / "scorer.onnx").symlink_to(outside)


def _scorer_fifo(root: Path) -> None:
    (root / "scorer.onnx").unlink()
    os.mkfifo(root / "scorer.onnx")


#: corpus edits on the graph C runs that the corpus makes on another graph only
SCORER_CASES = [
    BundleCase("scorer-lying-tensor-size", _graph("scorer", _lying_tensor), "UNSAFE"),
    BundleCase("scorer-symlink-outside", _scorer_symlink, "UNSAFE"),
    BundleCase("scorer-fifo", _scorer_fifo, "UNSAFE"),
]


SCORER_MESSAGES = {
    "scorer-symlink-outside": NOT_REGULAR,
    "scorer-fifo": NOT_REGULAR,
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


def test_the_table_covers_every_bundle_case():
    assert set(C_OUTCOME) == {c.name for c in BUNDLE_CASES}  # every bundle case, and nothing else
    assert set(CHECK_OUTCOME) <= set(C_OUTCOME)
    for code, why in C_OUTCOME.values():
        assert code in (0, 1) and (code == 1 or why in REASONS or why.startswith("accepted, as by aeruntime"))


@pytest.mark.parametrize("case", BUNDLE_CASES, ids=lambda c: c.name)
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
        if why not in REASONS:  # accepted by both: the same scores as aeruntime's
            want = aeruntime.load(bundle, providers="cpu").score(np.loadtxt(rows_csv, delimiter=",", ndmin=2))
            got = np.array([float(ln.split(",")[0]) for ln in r.stdout.splitlines()[1:]])
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    if case.vs_aeruntime:
        theirs = _aeruntime_code(bundle, rows_csv)
        # the same outcome, or aeruntime refuses (exit 1) for a reason C documents (a file C does not read)
        assert theirs == code or (theirs == 1 and code == 0 and why in REASONS), (theirs, r.stderr)


@pytest.mark.parametrize("name", sorted(CHECK_OUTCOME))
def test_check_reads_only_plain_golden_files(consumer, name):
    """``aescore --check`` opens golden files without following a link or blocking on a FIFO."""
    case = next(c for c in BUNDLE_CASES if c.name == name)
    bundle = forged(case, consumer.work / "corpus-check")
    code, fragment = CHECK_OUTCOME[name]
    r = consumer.run("--check", bundle)
    assert r.returncode == code, r.stderr
    assert fragment in (r.stderr if code else r.stdout), r.stderr
    if code:
        assert r.stderr.startswith("error: ") and "\n" not in r.stderr, r.stderr


def test_an_ort_format_scorer_is_refused(consumer, bundles, rows_csv):
    """scorer.ort is a flatbuffer C cannot check before onnxruntime parses it: refused, one line, exit 1."""
    bundle = bundles["digits-dense-ort"]
    assert (bundle / "scorer.ort").is_file() and not (bundle / "scorer.onnx").exists()
    for args in ([bundle, rows_csv], ["--check", bundle]):
        r = consumer.run(*args)
        assert r.returncode == 1 and r.stdout == "", r.stderr
        assert r.stderr.startswith(f"error: {bundle}/scorer.ort: an ORT-format graph, which this consumer cannot check")
        assert "\n" not in r.stderr and "aeruntime verify" in r.stderr


@pytest.mark.parametrize("case", SCORER_CASES, ids=lambda c: c.name)
def test_structure_edits_on_the_scorer_are_refused_as_aeruntime_does(consumer, rows_csv, case):
    bundle = forged(case, consumer.work / "corpus")
    r = consumer.run(bundle, rows_csv)
    assert r.returncode == 1 == _aeruntime_code(bundle, rows_csv), r.stderr
    assert r.stderr.startswith(f"error: {bundle}/scorer.onnx: ") and "\n" not in r.stderr, r.stderr
    assert SCORER_MESSAGES[case.name] in r.stderr, r.stderr


@pytest.mark.parametrize("name", ["loop", "external-data-in-scorer", "symlink-to-own-file"])
def test_refusals_are_valgrind_clean(consumer, rows_csv, name):
    case = next(c for c in [*BUNDLE_CASES, *SCORER_CASES] if c.name == name)
    bundle = forged(case, consumer.work / "corpus-vg")
    r = consumer.run(bundle, rows_csv, valgrind=True)
    assert r.returncode == 1 and r.stderr.startswith("error: ") and "\n" not in r.stderr, r.stderr
