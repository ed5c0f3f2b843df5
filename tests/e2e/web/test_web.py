"""The browser consumer: ``aeexport web`` sites in headless Chromium against aeruntime.

For every shipped bundle (``models/*/``) a site is built with ``aeexport web`` into a temp
folder, served on 127.0.0.1 by ``http.server``, and driven by ``examples/web/drive.mjs``
(playwright-core, headless ``chromium``): the page verifies the bundle with WebCrypto, runs
the golden vectors with onnxruntime-web, scores a CSV through its file picker and a
synthetic stroke on its drawing pad. Scores are compared with aeruntime's on the same rows
within the bundle's parity tolerance, labels and top features must be identical. A site
whose scorer.onnx has one byte flipped must be refused on the page.

Screenshots of each view are taken on every run (into the temp folder) and copied into
``docs/`` when ``AEEXPORT_WRITE_SCREENSHOTS=1`` (see CONTRIBUTING.md).

Needs ``node`` and ``chromium`` (else skipped) and ``npm ci --prefix examples/web`` (else
FAILS: a skip would hide a missing install step in CI).
"""

from __future__ import annotations

import json
import math
import os
import shutil

import numpy as np
import pytest

from tests.conftest import MODELS, ROOT, SHIPPED_ROWS

from .browser import NEEDS_BROWSER, build, drive, require_web_modules, serve

SHIPPED = SHIPPED_ROWS  # series bundles: tests/e2e/node/test_node_series.py, tests/e2e/web/test_web_series.py
#: the bundle whose views go into docs/ (README "In the browser")
SCREENSHOT_BUNDLE = "digits-conv"
SCREENSHOTS = {"page": "web-page.png", "csv": "web-csv.png", "draw": "web-draw.png", "refused": "web-refused.png"}

pytestmark = NEEDS_BROWSER


@pytest.fixture(scope="module", autouse=True)
def node_modules() -> None:
    require_web_modules()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A static server on 127.0.0.1 (any free port) over one folder holding every site."""
    root = tmp_path_factory.mktemp("sites")
    with serve(root) as base:
        yield root, base


def rows_for(manifest: dict, digits: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """150 real digit rows (both classes) plus 10 clear outliers, flattened (n, 64)."""
    X = digits[0][:150].astype(np.float64)
    assert math.prod(manifest["input"]["shape"]) == X.shape[1]
    return np.concatenate([X, X[:10] * 4.0 + 3.0])


@pytest.fixture(scope="module")
def driven(server, digits, tmp_path_factory) -> dict[str, dict]:
    """Each shipped bundle's site built, served and driven once: name -> what the page reported."""
    root, base = server
    shots = tmp_path_factory.mktemp("screenshots")
    out: dict[str, dict] = {}
    for name in SHIPPED:
        text = build(MODELS / name, root / name)
        manifest = json.loads((MODELS / name / "manifest.json").read_text())
        X = rows_for(manifest, digits)
        csv = root / f"{name}.csv"
        header = ",".join(f"f{i}" for i in range(X.shape[1]))
        np.savetxt(csv, X, delimiter=",", header=header, comments="", fmt="%.9g")
        extra: list[str] = ["--shape", "one"]
        if name == SCREENSHOT_BUNDLE:  # its views go into docs/: draw a 0, the class the model never saw
            extra = ["--shape", "zero"]
            for view in ("page", "csv", "draw"):
                extra += ["--screenshot", f"{view}={shots / SCREENSHOTS[view]}"]
        res = drive(f"{base}/{name}/", "--csv", csv, "--draw", *extra)
        out[name] = {"result": res, "X": X, "cli": text, "shots": shots}
    return out


# ----------------------------------------------------------------------------- aeexport web
def test_cli_prints_how_to_open_the_site(driven):
    text = driven[SHIPPED[0]]["cli"]
    assert "wrote site ->" in text and "onnxruntime-web 1." in text
    assert "python -m http.server -d" in text and "http://localhost:8000/" in text


# ----------------------------------------------------------------------------- in the page
@pytest.mark.parametrize("name", SHIPPED)
def test_page_verifies_and_runs_every_golden_vector(driven, name):
    res = driven[name]["result"]
    assert res["state"] == "ready", res.get("error")
    assert res["bundle_id"] == json.loads((MODELS / name / "manifest.json").read_text())["bundle_id"]
    n_outputs = len(list((MODELS / name).glob("test_data/*/test_data_set_*/output_*.pb")))
    assert len(res["golden"]) == n_outputs > 0 and all(r["ok"] for r in res["golden"])
    assert {r["batch"] for r in res["golden"]} == {1, 5}
    assert res["ort"]["numThreads"] == 1  # the test server is not cross-origin isolated
    assert not [c for c in res["console"] if c.startswith(("error", "pageerror"))], res["console"]


@pytest.mark.parametrize("name", SHIPPED)
def test_page_scores_match_aeruntime(driven, name):
    import aeruntime

    model = aeruntime.load(MODELS / name, providers="cpu")
    X = driven[name]["X"].reshape(-1, *model.input_shape)
    csv = driven[name]["result"]["csv"]
    assert "error" not in csv, csv.get("error")
    assert csv["n"] == len(X) and csv["header"] is True
    tol = model.manifest["parity"]["tolerance"]
    want = model.score(X)
    labels = model.predict(X)
    assert 0 < labels.sum() < len(X)  # both labels exercised
    np.testing.assert_allclose(csv["scores"], want, rtol=tol["rtol"], atol=tol["atol"])
    np.testing.assert_array_equal(csv["labels"], labels)


def test_the_downloaded_csv_is_score_label_p_value_of_every_row(driven):
    res = driven[SCREENSHOT_BUNDLE]["result"]
    assert res["download"]["name"] == f"{SCREENSHOT_BUNDLE}.scores.csv"
    lines = res["download"]["text"].splitlines()
    assert lines[0] == "score,label,p_value" and len(lines) == 1 + res["csv"]["n"]  # the shipped scorers decide
    got = np.array([[float(v) for v in ln.split(",")] for ln in lines[1:]])
    np.testing.assert_array_equal(got[:, 0].astype(np.float32), np.float32(res["csv"]["scores"]))  # exact float32
    np.testing.assert_array_equal(got[:, 1], res["csv"]["labels"])
    assert ((got[:, 2] > 0) & (got[:, 2] <= 1)).all()  # conformal p-values: (1 + k) / (n + 1)


@pytest.mark.parametrize("name", SHIPPED)
def test_flagged_rows_name_the_features_aeruntime_explain_names(driven, name):
    import aeruntime

    model = aeruntime.load(MODELS / name, providers="cpu")
    X = driven[name]["X"].reshape(-1, *model.input_shape)
    flagged = driven[name]["result"]["csv"]["flagged"]
    rows = [f["row"] for f in flagged]
    scores = model.score(X)
    assert rows == sorted(np.flatnonzero(model.predict(X)).tolist(), key=lambda r: -scores[r])[:50]
    exp = model.explain(X[rows], top_k=3)
    np.testing.assert_array_equal([f["indices"] for f in flagged], exp.indices)
    np.testing.assert_allclose([f["shares"] for f in flagged], exp.shares, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("name", SHIPPED)
def test_drawing_a_stroke_gives_aeruntimes_score(driven, name):
    import aeruntime

    model = aeruntime.load(MODELS / name, providers="cpu")
    draw = driven[name]["result"]["draw"]
    assert draw is not None and draw["stroke"] == 1
    x = np.asarray(draw["input"], dtype=np.float32).reshape(1, *model.input_shape)
    assert x.max() > 8 and (x == 0).sum() > 20  # ink on some pixels, none on most
    tol = model.manifest["parity"]["tolerance"]
    np.testing.assert_allclose(draw["score"], model.score(x)[0], rtol=tol["rtol"], atol=tol["atol"])
    assert draw["label"] == int(model.predict(x)[0])
    raw = model.manifest["parity"]["raw_tolerance"]  # the decoder's, in raw feature units
    np.testing.assert_allclose(
        np.asarray(draw["reconstruction"]).reshape(x.shape), model.reconstruct(x), rtol=raw["rtol"], atol=raw["atol"]
    )


def test_a_csv_is_matched_to_the_feature_names_by_header(server, digits):
    """A bundle that names its features: the CSV's columns are picked by name (any order, extras ignored)."""
    import aeruntime

    root, base = server
    bundle = root / "named-bundle"
    shutil.copytree(MODELS / SHIPPED[0], bundle)
    m = json.loads((bundle / "manifest.json").read_text())
    names = [f"px{r}_{c}" for r in range(8) for c in range(8)]
    m["input"]["feature_names"] = names  # manifest.json is not hashed; graphs do not repeat the names
    (bundle / "manifest.json").write_text(json.dumps(m, indent=2))
    build(bundle, root / "named")
    X = rows_for(m, digits)
    order = np.random.default_rng(0).permutation(len(names))
    cols = [names[j] for j in order] + ["id"]
    table = np.concatenate([X[:, order], np.arange(len(X))[:, None]], axis=1)
    csv = root / "named.csv"
    np.savetxt(csv, table, delimiter=",", header=",".join(cols), comments="", fmt="%.9g")
    res = drive(f"{base}/named/", "--csv", csv)
    assert res["state"] == "ready", res.get("error")
    got = res["csv"]
    assert "error" not in got, got.get("error")
    assert got["ignored"] == ["id"]
    model = aeruntime.load(bundle, providers="cpu")
    assert model.feature_names == names
    Xs = X.reshape(-1, *model.input_shape)
    tol = model.manifest["parity"]["tolerance"]
    np.testing.assert_allclose(got["scores"], model.score(Xs), rtol=tol["rtol"], atol=tol["atol"])
    np.testing.assert_array_equal(got["labels"], model.predict(Xs))
    rows = [f["row"] for f in got["flagged"]]
    assert [f["names"] for f in got["flagged"]] == model.explain(Xs[rows], top_k=3).names

    # a missing feature column is named on the page; nothing is scored
    keep = [c for c in cols if c != "px3_4"]
    np.savetxt(
        csv, table[:, [cols.index(c) for c in keep]], delimiter=",", header=",".join(keep), comments="", fmt="%.9g"
    )
    res = drive(f"{base}/named/", "--csv", csv)
    assert "missing 1 of the 64 feature columns" in res["csv"]["error"] and "px3_4" in res["csv"]["error"]


def test_a_slim_bundle_is_scored_and_the_page_says_golden_was_not_checked(server, digits):
    import aeruntime
    from aeexport.export import slim_bundle

    root, base = server
    slim_bundle(MODELS / SHIPPED[0], root / "slim-bundle")
    build(root / "slim-bundle", root / "slim")
    res = drive(f"{base}/slim/", "--csv", root / f"{SHIPPED[0]}.csv")
    assert res["state"] == "ready" and res["golden"] == []
    model = aeruntime.load(root / "slim-bundle", providers="cpu")
    X = rows_for(model.manifest, digits).reshape(-1, *model.input_shape)
    tol = model.manifest["parity"]["tolerance"]
    np.testing.assert_allclose(res["csv"]["scores"], model.score(X), rtol=tol["rtol"], atol=tol["atol"])
    np.testing.assert_array_equal(res["csv"]["labels"], model.predict(X))


@pytest.fixture(scope="module")
def tampered(server, driven) -> dict:
    """The first bundle's site with one byte of scorer.onnx flipped, driven like the others."""
    root, base = server
    site = root / "tampered"
    shutil.copytree(root / SHIPPED[0], site)
    scorer = site / "bundle" / "scorer.onnx"
    data = bytearray(scorer.read_bytes())
    data[len(data) // 2] ^= 0x01
    scorer.write_bytes(bytes(data))
    shot = driven[SHIPPED[0]]["shots"] / SCREENSHOTS["refused"]
    return drive(f"{base}/tampered/", "--csv", root / f"{SHIPPED[0]}.csv", "--draw", "--screenshot", f"refused={shot}")


def test_a_tampered_graph_is_refused_on_the_page(tampered):
    assert tampered["state"] == "refused"
    assert tampered["error"]["code"] == "INTEGRITY"
    assert tampered["golden"] is None and tampered["csv"] is None and tampered["draw"] is None  # nothing ran
    text = tampered["refusedText"]
    assert "This bundle was refused" in text and "scorer.onnx has sha256" in text and "modified or corrupted" in text
    assert "refused" in tampered["screenshots"]


def test_without_webcrypto_the_page_refuses_rather_than_run_unverified(server, driven):
    """Plain http:// to a host other than localhost is not a secure context: no crypto.subtle.

    The host name is mapped to 127.0.0.1 inside Chromium (--host-resolver-rules): loopback only.
    """
    _, base = server
    port = base.rsplit(":", 1)[1]
    res = drive(
        f"http://aeweb.test:{port}/{SHIPPED[0]}/", "--chromium-arg", "--host-resolver-rules=MAP aeweb.test 127.0.0.1"
    )
    assert res["state"] == "refused" and res["golden"] is None
    assert "WebCrypto (crypto.subtle) is not available" in res["error"]["message"]
    assert "http://localhost" in res["refusedText"]


def test_screenshots_of_every_view(driven, tampered):
    shots = driven[SCREENSHOT_BUNDLE]["shots"]
    assert SHIPPED[0] == SCREENSHOT_BUNDLE  # the refused view is of the same bundle's site
    for view, file in SCREENSHOTS.items():
        data = (shots / file).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, view
    if os.environ.get("AEEXPORT_WRITE_SCREENSHOTS") == "1":
        for file in SCREENSHOTS.values():
            shutil.copyfile(shots / file, ROOT / "docs" / file)
