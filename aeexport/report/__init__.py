"""A self-contained HTML report (model card) of a bundle, optionally measured on DATA.

``aeexport report BUNDLE [DATA] --out report.html`` writes one HTML file with every
figure embedded as a base64 PNG, so it opens offline in any browser. Sections come
from :data:`SECTIONS` (a registry, in page order); each builder gets the
:class:`ReportContext` and returns its HTML, or ``None`` when it does not apply
(no DATA, no labels, not an image bundle, not a variant). The page lists what was
left out and why.

Rows are scored with :func:`aeruntime.load` (the deployed ONNX graphs), never
torch, so the report describes what is deployed. Scores: higher = more anomalous;
a row is flagged when ``score > threshold``. Every piece of text from the bundle or
the data passes through :func:`html.escape`.
"""

from __future__ import annotations

from .context import ReportContext, Section, image_shape_of
from .page import SECTIONS, build_report, write_report

__all__ = ["SECTIONS", "ReportContext", "Section", "build_report", "image_shape_of", "write_report"]
