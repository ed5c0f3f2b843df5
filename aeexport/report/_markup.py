"""HTML pieces of the report: escaping, key-value and grid tables, paragraphs, embedded matplotlib figures."""

from __future__ import annotations

import base64
import html
import io
import json
from typing import Any

from aeruntime.errors import AeError

from ._context import ReportContext

__all__ = ["esc", "figure", "fmt", "kv", "para", "pyplot", "table"]


def esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return esc(v)
    if isinstance(v, float):
        return esc(f"{v:.6g}")
    if isinstance(v, (list, tuple)):
        return esc(json.dumps(list(v)) if len(v) <= 12 else json.dumps(list(v[:12]))[:-1] + f", … ({len(v)} values)]")
    if isinstance(v, dict):
        return esc(json.dumps(v, default=str)[:300])
    return esc(v)


def kv(rows: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{esc(k)}</th><td>{fmt(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


def table(header: list[str], rows: list[list[Any]], cls: str = "grid") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{fmt(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise AeError(
            "the report needs matplotlib, which is not installed; install it with "
            "pip install 'aeexport[report]' (or pip install matplotlib)."
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure(ctx: ReportContext, name: str, fig: Any, caption: str) -> str:
    """Embed a matplotlib figure as a base64 PNG ``<figure data-figure=name>``; closes the figure."""
    plt = pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    ctx.figures.append(name)
    b64 = base64.b64encode(buf.getvalue()).decode("ascii")
    return (
        f'<figure data-figure="{esc(name)}"><img alt="{esc(caption)}" src="data:image/png;base64,{b64}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def para(text: str, cls: str = "") -> str:
    return f'<p class="{cls}">{esc(text)}</p>' if cls else f"<p>{esc(text)}</p>"
