"""``aeexport inspect``: describe a bundle from its manifest (no torch)."""

from __future__ import annotations

from typing import Any

import click

from aeruntime.clibase import echo_json

from ._common import echo_rows, threshold_text
from ._options import json_option


@click.command("inspect")
@click.argument("bundle", type=click.Path(file_okay=False, exists=True))
@json_option("Print the whole manifest as JSON.")
def inspect_command(bundle: str, as_json: bool) -> None:
    """Describe BUNDLE from its manifest (no torch needed); exit 1 when a listed file is missing.

    Inspect does not hash the files; `aeexport verify` and `aeruntime.load` do.
    """
    from pathlib import Path

    from aeruntime.errors import IntegrityError
    from aeruntime.format import read_manifest

    m = read_manifest(bundle)
    missing = sorted(name for name in m.get("files", {}) if not (Path(bundle) / name).is_file())
    if as_json:
        echo_json(m)
    else:
        echo_rows(_inspect_rows(bundle, m))
    if missing:
        raise IntegrityError(
            f"bundle not valid: {bundle} lacks {len(missing)} file(s) its manifest lists: "
            f"{', '.join(missing)}; re-export it or restore the files."
        )


def _inspect_rows(bundle: str, m: dict[str, Any]) -> list[tuple[str, str]]:
    """The manifest as (label, text) lines, without Python reprs."""
    cfg = m["model"].get("config", {})
    parity = m.get("parity", {})
    rows = [("bundle", f"{bundle} (format {m['format_version']}, id {m['bundle_id']})")]
    if "variant" in m:
        v = m["variant"]
        parent = f"{v.get('parent_path', '?')} (id {v.get('parent_bundle_id', '?')})"
        rows.append(("variant", f"{v.get('kind')} of {parent}: {v.get('description', '')}"))
    rows += [
        ("model", m["model"]["kind"] + (f": {_kv_text(cfg)}" if cfg else "")),
        ("input", f"{m['input']['name']} (batch, {', '.join(map(str, m['input']['shape']))}) {m['input']['dtype']}"),
    ]
    names = m["input"].get("feature_names")
    if names:
        shown = ", ".join(names[:8]) + (f", ... ({len(names)} in all)" if len(names) > 8 else "")
        rows.append(("features", shown))
    rows.append(("latent", f"{m['latent']['name']} (batch, {', '.join(map(str, m['latent']['shape']))})"))
    for role, g in m["graphs"].items():
        files = f"{role}: {g.get('file', role + '.onnx')}, {', '.join(g['inputs'])} -> {', '.join(g['outputs'])}"
        rows.append(("graph", files))
    rows += [
        ("score", f"{m['score']['name']} ({m['score']['direction'].replace('_', ' ')})"),
        ("threshold", threshold_text(m["threshold"])),
        (
            "parity",
            (
                f"{'ok' if parity.get('ok') else 'FAIL'} (export time), max abs diff "
                f"{parity.get('max_abs', float('nan')):.3e}"
            ),
        ),
        ("producer", ", ".join(f"{k} {v}" for k, v in m.get("producer", {}).items())),
        ("runtime", f"onnxruntime {m['min_onnxruntime']} or newer" if "min_onnxruntime" in m else "not recorded"),
    ]
    return rows


def _kv_text(d: dict[str, Any]) -> str:
    """``{"hidden": [128, 64], "latent_dim": 16}`` -> ``hidden 128x64, latent_dim 16``."""

    def value(v: Any) -> str:
        if isinstance(v, (list, tuple)):
            return "x".join(map(str, v)) if v else "none"
        if isinstance(v, dict):
            return "(" + _kv_text(v) + ")"
        return f"{v:g}" if isinstance(v, float) else str(v)

    return ", ".join(f"{k} {value(v)}" for k, v in d.items())
