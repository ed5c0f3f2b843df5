"""Issue 33: the cross-check of benchmarks/series.py (the kind chosen on the even-position half,
measured on the odd half against the baselines; seeds averaged per series; resumable runs)."""

from __future__ import annotations

import json
import sys

import pytest

SERIES = [f"s{i:02d}" for i in range(6)]  # sorted: choose = s00, s02, s04; confirm = s01, s03, s05


@pytest.fixture
def series(bench_import):
    return bench_import("series")


def _runs(vus: dict[str, dict[str, float]], seeds=(0, 1)) -> list[dict]:
    """Per-series lines of two seeds whose mean VUS-PR is ``vus[method][series]`` (seed 0 low, seed 1 high)."""
    out = []
    for seed in seeds:
        d = (0.02 if seed else -0.02) if len(seeds) > 1 else 0.0
        training = {
            k: {
                "epochs_run": 40 + seed,
                "epoch_cap": 300,
                "stopped_at_cap": False,
                "train_seconds": 2.0,
                "seconds": 3.0,
            }
            for k in ("series-dense", "series-tcn")
        }
        for s in SERIES:
            methods = {
                m: {"vus_pr": per[s] + d, "auc_pr": per[s], "auc_roc": 0.5, "seconds": 1.0} for m, per in vus.items()
            }
            out.append(
                {"series": s, "seed": seed, "w_auto": 32, "sliding": 125, "methods": methods, "training": training}
            )
    return out


def _vus(choose: float, confirm: float) -> dict[str, float]:
    return {s: (choose if i % 2 == 0 else confirm) for i, s in enumerate(SERIES)}


def _table(text: str) -> dict[str, list[str]]:
    return {
        cells[0].replace(" **(chosen)**", ""): cells[1:]
        for line in text.splitlines()
        if line.startswith("| ") and not line.startswith("| ---")
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }


def test_choice_on_the_choose_half_and_verdict_on_the_confirm_half(series):
    # tcn wins the choose half but is poor on the confirm half: it is chosen anyway, and the confirm
    # half's verdict is measured on it, not on the kind that would have won there
    vus = {
        "series-tcn": _vus(0.30, 0.50),
        "series-dense": _vus(0.40, 0.20),
        "row": _vus(0.10, 0.10),
        "iforest": _vus(0.10, 0.25),
        "pca": _vus(0.20, 0.30),
    }
    text = "\n".join(series.report(_runs(vus), seeds="0,1"))
    assert (
        "**series-dense** (0.400; series-tcn 0.300, a margin of 0.1000), NOT the current default (series-tcn)" in text
    )
    assert "series-dense 0.200, iforest 0.250, pca 0.300, row 0.100" in text
    assert "does NOT beat both IsolationForest and PCA there, and it beats the row model" in text
    assert "The current default series-tcn on the confirm half: 0.500, which beats both" in text
    rows = _table(text)
    # choose / confirm / all means: the seeds' +-0.02 cancel out
    assert rows["series-dense"][:2] == ["0.400", "0.200"] and rows["series-dense"][4] == "0.300"
    assert rows["series-tcn"][:2] == ["0.300", "0.500"]
    assert "2 run(s) per series (seeds 0,1)" in text
    assert "epochs run 40..41 (median 40, cap 300), stopped by early stopping in 12 of 12" in text


def test_the_default_beating_both_baselines_on_the_confirm_half(series):
    vus = {
        "series-tcn": _vus(0.40, 0.45),
        "series-dense": _vus(0.35, 0.60),
        "row": _vus(0.10, 0.50),
        "iforest": _vus(0.10, 0.25),
        "pca": _vus(0.20, 0.44),
    }
    text = "\n".join(series.report(_runs(vus, seeds=(0,)), seeds="0"))
    assert "**series-tcn** (0.400; series-dense 0.350, a margin of 0.0500), the current default." in text
    assert "beats both IsolationForest and PCA there, and it does NOT beat the row model." in text
    assert "The current default" not in text  # it is the chosen kind


def test_a_resumed_run_skips_the_series_of_its_seed_only(series, tmp_path):
    path = tmp_path / "runs.jsonl"
    assert series._done(path, 0) == set()
    path.write_text(
        "\n".join(json.dumps({"series": s, "seed": seed}) for s, seed in (("a", 0), ("b", 0), ("c", 1))) + "\n\n"
    )
    assert series._done(path, 0) == {"a", "b"}
    assert series._done(path, 1) == {"c"}
    assert series._done(None, 0) == set()


def test_halves_are_positions_in_the_data_folder_when_series_are_missing(series):
    # s01 (confirm) and s02 (choose) were not run: the halves stay the positions among all six series
    vus = {m: {s: float(s[1:]) / 10 for s in SERIES} for m in ("series-dense", "series-tcn", "row", "iforest", "pca")}
    vus["series-tcn"] = {s: v + 0.01 for s, v in vus["series-tcn"].items()}
    raw = [r for r in _runs(vus, seeds=(0,)) if r["series"] not in ("s01", "s02")]
    text = "\n".join(series.report(raw, seeds="0", names=SERIES))
    assert "choose half = even positions by name (2 of 3), confirm half = odd (2 of 3)" in text
    assert "**Not recorded**: s01, s02." in text
    rows = _table(text)
    assert rows["series-dense"][:2] == ["0.200", "0.400"]  # choose: s00, s04; confirm: s03, s05
    assert series.halves(list(reversed(SERIES))) == (["s00", "s02", "s04"], ["s01", "s03", "s05"])


def test_a_series_run_twice_for_a_seed_counts_once(series):
    vus = {m: {s: 0.5 for s in SERIES} for m in ("series-dense", "series-tcn", "row", "iforest", "pca")}
    raw = _runs(vus, seeds=(0,))
    again = {**raw[0], "methods": {m: {**v, "vus_pr": 0.9} for m, v in raw[0]["methods"].items()}}
    unique = series.unique_runs([*raw, again])
    assert unique == raw
    assert "1 run(s) per series" in "\n".join(series.report(unique, seeds="0"))
    # a seed not recorded for one series: said, and that series' figures are its one run's
    two = [*raw, *[r for r in _runs(vus, seeds=(0, 1)) if r["seed"] == 1 and r["series"] != "s03"]]
    text = "\n".join(series.report(two, seeds="0,1"))
    assert "the mean over 1/2 run(s) per series" in text and "Fewer runs than 2 (a seed not recorded): s03." in text


def test_the_report_names_a_failed_run_and_leaves_it_out(series, tmp_path, monkeypatch):
    for s in SERIES:
        (tmp_path / f"{s}.npz").write_bytes(b"")  # the halves are positions among the folder's names
    vus = {m: {s: 0.5 for s in SERIES} for m in ("series-dense", "series-tcn", "row", "iforest", "pca")}
    runs = [r for r in _runs(vus, seeds=(0, 1)) if (r["series"], r["seed"]) != ("s03", 1)]
    failed = {
        "series": "s03",
        "seed": 1,
        "failed": "RuntimeError: Error: parity",
        "during": "aeexport export (series-tcn)",
    }
    (tmp_path / "runs.jsonl").write_text("\n".join(json.dumps(r) for r in [*runs, failed]) + "\n")
    out = tmp_path / "out.md"
    argv = ["series.py", "--report", str(tmp_path / "runs.jsonl"), "--data", str(tmp_path), "--seeds", "0,1"]
    monkeypatch.setattr(sys, "argv", [*argv, "--out", str(out)])
    series.main()
    text = out.read_text()
    assert "s03, seed 1: aeexport export (series-tcn) failed: RuntimeError: Error: parity" in text
    assert "Fewer runs than 2 (a seed not recorded): s03." in text and "6 series" in text
