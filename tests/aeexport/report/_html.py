"""Helpers for the report tests: parse the page, decode its embedded figures."""

from __future__ import annotations

import base64
import io
from html.parser import HTMLParser

import numpy as np


class Page(HTMLParser):
    """Section ids, figures (name -> img src) and every tag's attributes of one HTML page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.figures: dict[str, str] = {}
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._figure: str | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "section":
            self.sections.append(str(a.get("id")))
        elif tag == "figure":
            self._figure = a.get("data-figure")
        elif tag == "img" and self._figure is not None:
            self.figures[self._figure] = str(a.get("src"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._figure = None


def decode_png(src: str) -> np.ndarray:
    """The image of a ``data:image/png;base64,...`` URI as an (H, W, C) uint8 array."""
    from PIL import Image

    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), src[:40]
    raw = base64.b64decode(src[len(prefix) :], validate=True)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(raw)) as im:
        im.load()
        return np.asarray(im.convert("RGB"))


def assert_real_figure(img: np.ndarray, min_side: int = 150) -> None:
    """A figure worth the name: not tiny, not one colour, some ink on the white background."""
    h, w = img.shape[:2]
    assert min(h, w) >= min_side, (h, w)
    colours = np.unique(img.reshape(-1, 3), axis=0)
    assert len(colours) > 20, len(colours)
    ink = np.mean(img.min(axis=2) < 200)
    assert 0.01 < ink < 0.95, ink
