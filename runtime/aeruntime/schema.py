"""Compatibility names: the manifest schema lives in :mod:`aeruntime.format.schema`."""

from .format.constants import CORE_ROLES, MAX_RANK, MAX_ROW_ELEMENTS  # noqa: F401
from .format.schema import check_relpath, validate_manifest  # noqa: F401
from .format.scores import threshold_problem as check_threshold_value  # noqa: F401
