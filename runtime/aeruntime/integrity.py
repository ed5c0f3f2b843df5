"""Compatibility names: graph checks live in :mod:`aeruntime.format.graphs`, sessions in :mod:`aeruntime.sessions`."""

from .format.constants import MAX_GRAPH_BYTES  # noqa: F401
from .format.graphs import is_ort_format, read_graph, read_graphs  # noqa: F401
from .format.paths import safe_path as safe_file  # noqa: F401
from .sessions import check_session_io, create_session  # noqa: F401

check_graphs = read_graphs
