"""`aeexport report`: one self-contained HTML page whose sections follow the inputs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from aeruntime.errors import InvalidInputError
from tests.conftest import MODELS

from ._html import Page, assert_real_figure, decode_png

pytest.importorskip("matplotlib")

DATA_SECTIONS = {"detection", "latent", "reconstructions", "anomalies", "pca"}
ALWAYS = ["model", "training", "parity", "threshold"]


@pytest.fixture(scope="module")
def digits_report(tmp_path_factory) -> tuple[Path, dict]:
    from aeexport.report import write_report

    out = tmp_path_factory.mktemp("report") / "digits.html"
    return out, write_report(MODELS / "digits-dense", out, "digits")


def _no_external_resources(page: Page) -> None:
    for tag, a in page.tags:
        for attr in ("src", "href"):
            v = a.get(attr)
            if v is not None and tag != "a":
                assert v.startswith("data:"), (tag, v[:60])
        if tag == "a":
            assert str(a.get("href", "")).startswith("#"), a
        assert tag not in ("script", "link", "iframe"), tag


def test_digits_report_has_every_data_section_and_decodable_figures(digits_report):
    out, info = digits_report
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    page = Page(text)
    assert page.sections == [*ALWAYS, "detection", "latent", "reconstructions", "anomalies", "pca"]
    assert info["sections"] == page.sections
    assert "variant" not in page.sections
    assert set(page.figures) == {
        "loss_curves",
        "score_distribution",
        "roc_pr",
        "latent_map",
        "reconstructions",
        "anomaly_errors",
    }
    assert sorted(info["figures"]) == sorted(page.figures)
    for src in page.figures.values():
        assert_real_figure(decode_png(src))
    _no_external_resources(page)
    assert "records no per-epoch history" not in text


def test_a_bundle_without_history_gets_a_note_not_an_empty_curve(tmp_path):
    """Bundles exported before the per-epoch history was recorded still get a report."""
    import json
    import shutil

    from aeexport.report import write_report

    old = tmp_path / "old"
    shutil.copytree(MODELS / "digits-dense", old)
    m = json.loads((old / "manifest.json").read_text())
    m["training"].pop("history")
    (old / "manifest.json").write_text(json.dumps(m))
    write_report(old, tmp_path / "old.html")
    page = Page((tmp_path / "old.html").read_text(encoding="utf-8"))
    assert "loss_curves" not in page.figures
    assert "records no per-epoch history" in (tmp_path / "old.html").read_text(encoding="utf-8")


def test_confusion_counts_match_a_direct_computation(digits_report):
    from sklearn.datasets import load_digits

    import aeruntime
    from aeexport.data import binary_labels, make_split

    out, _ = digits_report
    text = out.read_text(encoding="utf-8")
    model = aeruntime.load(MODELS / "digits-dense", providers="cpu")
    d = load_digits()
    tc = model.manifest["training"]["train_config"]
    split = make_split(
        d.data.astype(np.float32),
        binary_labels(d.target, 0),
        val_fraction=tc["val_fraction"],
        test_fraction=0.2,
        seed=tc["seed"],
    )
    pred = model.score(split.test) > model.threshold
    y = split.y_test == 1
    tp, fn, fp, tn = (int(np.sum(pred & y)), int(np.sum(~pred & y)), int(np.sum(pred & ~y)), int(np.sum(~pred & ~y)))
    table = re.search(r'<table class="grid confusion">(.*?)</table>', text, re.DOTALL).group(1)
    cells = re.findall(r"<td>([^<]*)</td>", table)
    assert cells == ["anomaly (label 1)", str(tp), str(fn), "normal (label 0)", str(fp), str(tn)]
    assert tp + fn == int(y.sum()) == 178  # every digit 0 is a held-out anomaly


def test_report_without_data_shows_the_manifest_only(tmp_path):
    from aeexport.report import write_report

    out = tmp_path / "conv.html"
    info = write_report(MODELS / "digits-conv", out)
    page = Page(out.read_text(encoding="utf-8"))
    assert page.sections == ALWAYS
    assert set(page.figures) == {"loss_curves"}  # from the manifest's training history; no DATA figures
    text = out.read_text(encoding="utf-8")
    assert "No DATA was given" in text
    assert {s["section"] for s in info["skipped"]} >= {"Latent space", "Autoencoder vs PCA"}
    assert "conv" in text and "[1, 8, 8]" in text  # kind and input shape on the card


def test_loss_curves_from_the_recorded_history(tmp_path, dense_bundle, digits):
    """A bundle exported from TrainResult.summary() carries the history; the curve is drawn from it."""
    from aeexport.report import write_report

    m = json.loads((dense_bundle / "manifest.json").read_text())
    hist = m["training"]["history"]
    assert [h["epoch"] for h in hist] == list(range(1, len(hist) + 1))
    assert all(np.isfinite([h["train_loss"], h["val_loss"]]).all() for h in hist)
    out = tmp_path / "dense.html"
    X, y = digits
    npz = tmp_path / "labelled.npz"
    np.savez(npz, X=X[:400], y=(y[:400] == 0).astype(np.int8))
    write_report(dense_bundle, out, str(npz))
    page = Page(out.read_text(encoding="utf-8"))
    assert "loss_curves" in page.figures
    assert_real_figure(decode_png(page.figures["loss_curves"]))
    # labelled, but the bundle does not say its rows are images: no image grid
    assert "detection" in page.sections and "reconstructions" not in page.sections


def test_unlabelled_data_has_no_detection_section(tmp_path, digits):
    from aeexport.report import write_report

    X, _ = digits
    npy = tmp_path / "rows.npy"
    np.save(npy, X[:300])
    out = tmp_path / "u.html"
    write_report(MODELS / "digits-vae", out, str(npy))
    page = Page(out.read_text(encoding="utf-8"))
    assert "detection" not in page.sections
    assert {"latent", "reconstructions", "anomalies", "pca"} <= set(page.sections)
    assert "roc_pr" not in page.figures
    assert "coloured by anomaly score" in out.read_text(encoding="utf-8")


def test_text_from_the_bundle_is_escaped(tmp_path):
    from aeexport.report import write_report

    b = tmp_path / "b"
    shutil.copytree(MODELS / "digits-dense", b)
    m = json.loads((b / "manifest.json").read_text())
    m["dataset"]["note"] = "<script>alert(1)</script>"
    (b / "manifest.json").write_text(json.dumps(m))
    out = tmp_path / "e.html"
    write_report(b, out)
    text = out.read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_bad_out_and_bad_data_are_typed_errors(tmp_path):
    from aeexport.report import write_report

    with pytest.raises(InvalidInputError, match=r"expected a file name ending in \.html"):
        write_report(MODELS / "digits-dense", tmp_path / "r.pdf")
    bad = tmp_path / "wide.npy"
    np.save(bad, np.zeros((10, 5), np.float32))
    with pytest.raises(InvalidInputError, match="rows have 5 features, but the bundle expects 64"):
        write_report(MODELS / "digits-dense", tmp_path / "r.html", str(bad))
    assert not (tmp_path / "r.html").exists()


def test_cli_report_json_and_usage_errors(tmp_path):
    from click.testing import CliRunner

    from aeexport.cli import main

    runner = CliRunner()
    out = tmp_path / "r.html"
    res = runner.invoke(main, ["report", str(MODELS / "digits-conv"), "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["sections"] == ALWAYS and out.is_file()
    res = runner.invoke(main, ["report", str(MODELS / "digits-conv"), "--out", str(tmp_path / "r.txt")])
    assert res.exit_code == 2
    assert "expected a file name ending in .html" in res.output and "Traceback" not in res.output


@pytest.mark.slow
def test_variant_report_has_the_decision_table(tmp_path, digits):
    from aeexport.report import write_report
    from aeexport.variants import make_variant

    parent = tmp_path / "parent"
    shutil.copytree(MODELS / "digits-dense", parent)
    variant = tmp_path / "parent-fp16"
    manifest = make_variant(parent, "fp16", variant)
    out = tmp_path / "v.html"
    write_report(variant, out)
    text = out.read_text(encoding="utf-8")
    page = Page(text)
    assert page.sections == [*ALWAYS, "variant"]
    section = text[text.index('<section id="variant">') :]
    for check in manifest["parity"]["checks"]:
        assert f"<td>{check['check']}</td>" in section
    assert "stored at export" in section
    # with DATA and the parent beside it, the table is re-measured on the DATA rows
    write_report(variant, out, "digits")
    text = out.read_text(encoding="utf-8")
    assert "re-measured on the DATA rows" in text and "<td>roc_auc_drop</td>" in text


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="no chromium binary (CI installs Debian's chromium package)")
def test_report_renders_in_headless_chromium(digits_report, tmp_path):
    out, _ = digits_report
    shot = tmp_path / "shot.png"
    cmd = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1200,2000",
        out.resolve().as_uri(),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    from PIL import Image

    with Image.open(shot) as im:
        img = np.asarray(im.convert("RGB"))
    assert img.shape[:2] == (2000, 1200)
    assert_real_figure(img)
    # the dark page header is drawn, and the page is not one flat background
    assert img[:40].mean() < 80
    assert img[200:].std() > 20


@pytest.fixture(scope="module")
def denoising_bundle(tmp_path_factory, digits) -> Path:
    """A denoising AE trained briefly on all digits, the way `aeexport train digits` splits them."""
    from aeexport.data import make_split
    from aeexport.export import export_bundle
    from aeexport.settings import TrainConfig
    from aeexport.train import train_model

    X, _ = digits
    split = make_split(X, None, val_fraction=0.15, seed=0)
    cfg = TrainConfig(epochs=8, patience=5, progress=False, seed=0)
    r = train_model(
        split.train, split.val, kind="denoising", model_options={"noise": "masking", "noise_level": 0.2}, config=cfg
    )
    out = tmp_path_factory.mktemp("bundles") / "denoising"
    export_bundle(
        r.model, out, calibration_x=split.val, training=r.summary(), dataset={"source": "digits", "rows": len(X)}
    )
    return out


@pytest.mark.slow
def test_denoising_report_shows_noisy_and_denoised_rows(tmp_path, denoising_bundle, digits_report):
    from aeexport.report import write_report

    out = tmp_path / "dn.html"
    write_report(denoising_bundle, out, "digits")
    text = out.read_text(encoding="utf-8")
    page = Page(text)
    assert "reconstructions" in page.sections and "detection" not in page.sections  # trained on every class
    assert "reproduced (seed 0)" in text
    grid = decode_png(page.figures["reconstructions"])
    assert_real_figure(grid)
    assert "then noisy inputs and the model&#x27;s denoised output" in text
    plain = decode_png(Page(digits_report[0].read_text(encoding="utf-8")).figures["reconstructions"])
    # four rows of images (original, reconstruction, noisy, denoised) against two
    assert grid.shape[0] / grid.shape[1] > 1.6 * plain.shape[0] / plain.shape[1]
    assert {"loss_curves", "latent_map", "anomaly_errors"} <= set(page.figures)


def test_image_rows_come_from_the_input_shape_or_the_digits_dataset():
    from aeexport.report import image_shape_of

    conv = json.loads((MODELS / "digits-conv" / "manifest.json").read_text())
    dense = json.loads((MODELS / "digits-dense" / "manifest.json").read_text())
    assert image_shape_of(conv) == (1, 8, 8)  # rank-3 input
    assert image_shape_of(dense) == (1, 8, 8)  # 64 flat features of digits
    dense["dataset"]["source"] = "cardio.csv"
    assert image_shape_of(dense) is None
    dense["input"]["shape"] = [3, 4, 5]
    assert image_shape_of(dense) == (3, 4, 5)
