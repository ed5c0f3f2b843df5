"""The C consumer (examples/c) against aeruntime: scores, labels, golden vectors, typed errors.

Every shipped bundle with a scorer and digits-dense's int8 (dynamic, static), fp16 and ORT-format
variants, scored by ``aescore`` (onnxruntime 1.21's C API, Debian 13) and by aeruntime in this
Python (onnxruntime from pip) on the same rows.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import aeruntime
from tests.conftest import BIN, SUBPROCESS_ENV
from tests.e2e.c.conftest import ALL_BUNDLES, C_BATCH, tolerance


@pytest.mark.parametrize("name", ALL_BUNDLES)
def test_scores_and_labels_match_aeruntime(consumer, bundles, digit_rows, name):
    rows, path = digit_rows
    bundle = bundles[name]
    model = aeruntime.load(bundle)
    x = rows.reshape(-1, *model.input_shape)
    want = np.concatenate([model.score(x[i : i + C_BATCH]) for i in range(0, len(x), C_BATCH)])
    got, labels = consumer.scores(bundle, path)
    atol, rtol = tolerance(bundle)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=atol, rtol=rtol)
    # labels: identical, except rows whose score is within the tolerance of the threshold (ties)
    t = model.threshold
    tie = np.abs(want - t) <= atol + rtol * abs(t)
    want_labels = (want > t).astype(np.int8)
    assert np.array_equal(labels[~tie], want_labels[~tie])
    assert labels.sum() > 0 and labels.sum() < len(labels)  # the outliers are flagged, not everything


def test_stdin_and_header_with_feature_names(consumer, named_bundle, digit_rows):
    rows, path = digit_rows
    model = aeruntime.load(named_bundle)
    body = path.read_text()
    header = ",".join(f"px{i}" for i in range(64)) + "\n"
    r = consumer.run(named_bundle, "-", stdin=header + body)
    assert r.returncode == 0, r.stderr
    got = np.array([float(ln.split(",")[0]) for ln in r.stdout.splitlines()[1:]], dtype=np.float32)
    np.testing.assert_allclose(got, model.score(rows), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ALL_BUNDLES)
def test_check_passes_on_golden_vectors(consumer, bundles, name):
    r = consumer.run("--check", bundles[name])
    assert r.returncode == 0, r.stderr
    assert "checked 2 golden vector sets" in r.stdout


@pytest.mark.parametrize("name", ["digits-dense"])
def test_check_fails_on_a_tampered_output(consumer, bundles, name):
    bundle = shutil.copytree(bundles[name], bundles[name].with_name(f"{name}-tampered"))
    pb = bundle / "test_data" / "scorer" / "test_data_set_1" / "output_0.pb"
    tensor = onnx.load_tensor(str(pb))
    values = numpy_helper.to_array(tensor).copy()
    values[2] *= 1.001  # beyond 1e-5 + 1e-4 * |expected|
    onnx.save_tensor(numpy_helper.from_array(values, tensor.name), str(pb))
    r = consumer.run("--check", bundle)
    assert r.returncode == 1
    assert r.stderr.startswith("error: ") and "\n" not in r.stderr
    assert "test_data_set_1/output_0.pb: score 2 is" in r.stderr and "were modified" in r.stderr


def test_check_refuses_a_malformed_tensor(consumer, bundles):
    bundle = shutil.copytree(bundles["digits-dense"], bundles["digits-dense"].with_name("truncated-pb"))
    pb = bundle / "test_data" / "scorer" / "test_data_set_0" / "input_0.pb"
    pb.write_bytes(pb.read_bytes()[:-7])  # the payload ends inside raw_data
    r = consumer.run("--check", bundle)
    assert r.returncode == 1
    assert "input_0.pb: not a float32 TensorProto: a field's length runs past the end" in r.stderr


def _case_files(work, bundles, named):
    """name -> (bundle, rows text, expected exit code, message pattern)."""
    nograph = work / "bundles" / "nograph"
    if not nograph.exists():
        nograph.mkdir()
        shutil.copy(bundles["digits-dense"] / "manifest.json", nograph)
    row = ",".join(["1"] * 64)
    bad_header = ",".join(["px0", "px1", "oops", *(f"px{i}" for i in range(3, 64))])
    return {
        "width": (bundles["digits-dense"], "1,2,3\n", 2, r"rows\.csv has 3 features, but the model expects 64\."),
        "nan": (bundles["digits-dense"], f"{row}\n{row[:-1]}nan\n", 2, r"line 2 \(row 1\), column 64 holds a NaN"),
        "ragged": (bundles["digits-dense"], f"{row}\n1,2\n", 2, r"line 2 has 2 fields, but the model expects 64"),
        "text": (bundles["digits-dense"], f"{row}\n{row[:-1]}x\n", 2, r"column 64 on line 2 holds 'x'"),
        "overflow": (bundles["digits-dense"], f"{row[:-1]}1e39\n", 2, r"beyond the float32 range"),
        "missing graph": (nograph, f"{row}\n", 1, r"nograph: the bundle has no scorer graph"),
        "header": (
            named,
            f"{bad_header}\n{row}\n",
            2,
            r"the header's column 3 is 'oops', but the bundle's feature 3 is 'px2'",
        ),
    }


CASES = ["width", "nan", "ragged", "text", "overflow", "missing graph", "header"]


@pytest.mark.parametrize("case", CASES)
def test_typed_errors(consumer, bundles, named_bundle, case):
    bundle, text, code, pattern = _case_files(consumer.work, bundles, named_bundle)[case]
    rows = consumer.work / "rows" / case.replace(" ", "-") / "rows.csv"
    rows.parent.mkdir(parents=True, exist_ok=True)
    rows.write_text(text)
    r = consumer.run(bundle, rows)
    assert r.returncode == code, r.stderr
    assert r.stdout == ""  # nothing written for a batch that fails
    assert r.stderr.startswith("error: ") and "\n" not in r.stderr, r.stderr
    assert re.search(pattern, r.stderr), r.stderr


@pytest.mark.parametrize("case", ["width", "nan", "missing graph"])
def test_exit_codes_are_the_python_clis(consumer, bundles, named_bundle, case):
    bundle, text, code, _ = _case_files(consumer.work, bundles, named_bundle)[case]
    rows = consumer.work / "rows" / f"py-{case.replace(' ', '-')}.csv"
    rows.write_text(text)
    py = subprocess.run(
        [str(BIN / "aeruntime"), "score", str(bundle), str(rows)], capture_output=True, text=True, env=SUBPROCESS_ENV
    )
    assert py.returncode == code == consumer.run(bundle, rows).returncode


def test_usage_error(consumer):
    r = consumer.run()
    assert r.returncode == 2 and r.stderr.startswith("error: usage: aescore [--threshold T] [--stream] BUNDLE")


@pytest.mark.parametrize("name", ALL_BUNDLES)
def test_valgrind_clean_scoring(consumer, bundles, digit_rows, name):
    rows = consumer.work / "rows" / "valgrind.csv"
    if not rows.exists():
        rows.parent.mkdir(parents=True, exist_ok=True)
        np.savetxt(rows, digit_rows[0][:300], delimiter=",", fmt="%.9g")
    r = consumer.run(bundles[name], rows, valgrind=True)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "" and len(r.stdout.splitlines()) == 301


@pytest.mark.parametrize("args", ["check", "nan", "header", "missing graph"])
def test_valgrind_clean_errors_and_check(consumer, bundles, named_bundle, args):
    if args == "check":
        r = consumer.run("--check", bundles["digits-dense"], valgrind=True)
        assert r.returncode == 0 and r.stderr == "", r.stderr
        return
    bundle, text, code, _ = _case_files(consumer.work, bundles, named_bundle)[args]
    rows = consumer.work / "rows" / f"vg-{args.replace(' ', '-')}.csv"
    rows.write_text(text)
    r = consumer.run(bundle, rows, valgrind=True)
    assert r.returncode == code, r.stderr  # 99 would be valgrind's: a leak or an invalid access
    assert r.stderr.startswith("error: ") and "\n" not in r.stderr, r.stderr


def test_decision_scorer_labels_and_p_values_match_onnxruntime(consumer, named_bundle, digit_rows):
    """A freshly exported bundle's scorer decides: aescore prints the graph's label and p_value."""
    import onnxruntime as ort

    rows, path = digit_rows
    sess = ort.InferenceSession(str(named_bundle / "scorer.onnx"), providers=["CPUExecutionProvider"])
    parts = [sess.run(None, {"x": rows[i : i + C_BATCH]}) for i in range(0, len(rows), C_BATCH)]
    score, label, p = (np.concatenate([part[k] for part in parts]) for k in range(3))
    table = consumer.table(named_bundle, path)
    assert table.shape == (len(rows), 3)
    np.testing.assert_allclose(table[:, 0], score, atol=1e-5, rtol=1e-4)
    np.testing.assert_array_equal(table[:, 1], label.astype(np.float64))
    np.testing.assert_allclose(table[:, 2], p, rtol=1e-7)
    assert 0 < table[:, 1].sum() < len(rows)


@pytest.mark.parametrize("name", ["named", "score-only"])
def test_threshold_option_changes_labels_without_re_export(consumer, named_bundle, digit_rows, name):
    """--threshold T: fed to a decision scorer's threshold input (named: freshly exported), compared
    in C for a score-only scorer (digits-dense as shipped before decisions); labels are score > T either way."""
    from tests.aeruntime.conftest import SCORE_ONLY_DENSE

    rows, path = digit_rows
    bundle = named_bundle
    if name == "score-only":  # a copy inside the folder bound into the C consumer's root
        bundle = consumer.work / "bundles" / name
        if not bundle.is_dir():
            shutil.copytree(SCORE_ONLY_DENSE, bundle)
    base = consumer.table(bundle, path)
    for q in (25, 75):
        t = float(np.percentile(base[:, 0], q))
        moved = consumer.table(bundle, path, "--threshold", repr(t))
        np.testing.assert_array_equal(moved[:, 0], base[:, 0])
        np.testing.assert_array_equal(moved[:, 1], (moved[:, 0] > t).astype(np.float64))  # %.9g: the float32 exactly
        assert abs(moved[:, 1].mean() - (1 - q / 100)) < 0.02
        if moved.shape[1] == 3:
            np.testing.assert_array_equal(moved[:, 2], base[:, 2])  # p-values do not depend on the threshold


def test_threshold_option_refuses_a_non_number(consumer, named_bundle, digit_rows):
    r = consumer.run("--threshold", "abc", named_bundle, digit_rows[1])
    assert r.returncode == 2
    assert (
        r.stderr
        == "error: --threshold needs a finite number, got 'abc'. "
        + "usage: aescore [--threshold T] [--stream] BUNDLE [ROWS|-] | aescore --check BUNDLE"
    )
