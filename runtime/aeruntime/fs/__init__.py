"""The file-system rules of every reader and writer: the bottom layer (stdlib and :mod:`aeruntime.errors` only).

=============  ==================================================================
module         owns
=============  ==================================================================
``faults``     an ``OSError`` as a typed one-line error; regular input files only
``outputs``    the overwrite rule of every output (``check_output_dir``/``check_output_file``)
``atomic``     atomic file and directory writes, stale temporaries of killed writes
=============  ==================================================================

The bundle format (:mod:`aeruntime.format`), the table readers and writers
(:mod:`aeruntime.tables`), the command lines and aeexport publish through here.
"""

from __future__ import annotations

from .atomic import TMP_PREFIX, atomic_directory, atomic_write_bytes, publish_file, remove_stale, temp_file_beside
from .faults import check_input_file, fault_of, hidden_os_error, os_fault, shown_path
from .outputs import (
    BUNDLE_MARKER,
    DIR_RULE,
    FILE_RULE,
    KINDS,
    PACKAGE_MARKER,
    RUN_FILES,
    RUN_WRITER,
    SITE_MARKER,
    SPARK_MARKER,
    check_output_dir,
    check_output_file,
    marker_digests,
    owned_files,
    spark_marker,
)

__all__ = [
    "BUNDLE_MARKER",
    "DIR_RULE",
    "FILE_RULE",
    "KINDS",
    "PACKAGE_MARKER",
    "RUN_FILES",
    "RUN_WRITER",
    "SITE_MARKER",
    "SPARK_MARKER",
    "TMP_PREFIX",
    "atomic_directory",
    "atomic_write_bytes",
    "check_input_file",
    "check_output_dir",
    "check_output_file",
    "fault_of",
    "hidden_os_error",
    "marker_digests",
    "os_fault",
    "owned_files",
    "publish_file",
    "remove_stale",
    "shown_path",
    "spark_marker",
    "temp_file_beside",
]
