"""Compatibility names: atomic writes live in :mod:`aeruntime.format.atomic`."""

from .format.atomic import TMP_PREFIX, atomic_directory, atomic_write_bytes  # noqa: F401
