"""`aeexport verify` never says ok about nothing: it says what it compared (issue 18)."""

from __future__ import annotations

from click.testing import CliRunner

from aeexport.cli import main as aeexport_main
from aeexport.export import VERDICT_NOTHING, format_table, slim_bundle, verify_bundle


def test_slim_bundle_without_golden_vectors_is_not_reported_ok(dense_bundle, tmp_path):
    slim_bundle(dense_bundle, tmp_path / "slim")
    report = verify_bundle(tmp_path / "slim")
    assert report["rows"] == [] and report["verdict"] == VERDICT_NOTHING
    assert report["checked"]["outputs_compared"] == 0
    assert report["checked"]["golden_vectors"] == "none in the bundle"
    assert report["checked"]["torch_parity"].startswith("skipped")
    assert report["checked"]["file_hashes"] == 3  # the three graphs
    table = format_table(report)
    assert "overall: ok" not in table and "nothing compared" in table
    res = CliRunner().invoke(aeexport_main, ["verify", str(tmp_path / "slim")])
    assert res.exit_code == 0, res.output  # the exit code of a slim bundle is unchanged
    assert "overall: ok" not in res.output and "nothing compared" in res.output


def test_full_bundle_says_what_it_compared(dense_bundle):
    report = verify_bundle(dense_bundle, batches=(1, 7))
    assert report["verdict"] == "ok" and report["ok"] is True
    checked = report["checked"]
    assert checked["golden_vectors"] == report["golden_vectors"] > 0
    assert checked["torch_parity"] > 0
    assert checked["outputs_compared"] == len(report["rows"]) == checked["golden_vectors"] + checked["torch_parity"]
    assert "overall: ok" in format_table(report)
