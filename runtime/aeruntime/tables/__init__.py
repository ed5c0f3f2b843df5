"""Tables in and out: reading input in chunks (``.npy``, ``.npz``, ``.csv``, ``.parquet``; one module per
format), writing outputs (:mod:`.sinks`), and whole files (:mod:`.load`).

The one reader and the one writer of the runtime: ``aeruntime score/encode/decode/reconstruct``
stream through them, and :func:`read_table` / :func:`load_table` (aeexport's data loading) read a
whole file by joining its chunks; :func:`write_scores` writes a whole score file.

:func:`open_source` (:mod:`.reader`) returns a :class:`Source` (:mod:`.source`) that
yields :class:`Chunk` objects of at most ``batch_size`` rows:

- ``.npy`` (:mod:`.npy`): memory-mapped; after each chunk the pages just read are
  released (``madvise(MADV_DONTNEED)``), because file-backed pages a process has
  touched count in its resident set: without that, peak RSS would grow with the file;
- ``.csv`` (:mod:`.csv_reader`): the file is cut into pieces of a few MiB at line ends, each
  parsed by ``pyarrow.csv.read_csv`` in a thread pool (one thread per core, results in
  file order, a bounded number in flight); whether the first line is a header is
  the one rule of :mod:`.header` (``header=True|False`` forces it; the CLIs'
  ``--header/--no-header``); the width
  and the longest line are checked as the file is read (:mod:`.limits`); errors are
  re-located by a line-by-line scan, so messages name the line and column;
- ``.parquet`` / ``.pq`` (:mod:`.parquet`): ``ParquetFile.iter_batches`` with buffered
  reads (``pre_buffer=False``, a small ``buffer_size``): memory follows the batch, not
  the row-group size;
- ``.npz`` (:mod:`.npy`): compressed archives cannot be streamed; read whole, then chunked.

Tables (CSV with a header, Parquet) are matched **by name** when ``feature_names``
is given (the bundle's training columns; the rule is :mod:`aeruntime.validation`):
extra columns are ignored and listed in :attr:`Source.ignored`, missing ones raise
:class:`InvalidInputError`. Without names they are read positionally. Arrays are
always positional. Rows are checked by the one row rule, :mod:`aeruntime.validation`.
pyarrow is imported only when a table is read. Nothing here unpickles:
``np.load(..., allow_pickle=False)``.
"""

from __future__ import annotations

from .load import Table, load_table, read_table, write_scores
from .npy import load_npy, read_npz
from .reader import open_source
from .sinks import OUTPUT_SUFFIXES, SCORE_FIELDS, Field, check_output_path, open_sink
from .source import INPUT_SUFFIXES, TABLE_SUFFIXES, Chunk, Source, check_table_options, existing_file, label_index

__all__ = [
    "INPUT_SUFFIXES",
    "OUTPUT_SUFFIXES",
    "SCORE_FIELDS",
    "TABLE_SUFFIXES",
    "Chunk",
    "Field",
    "Source",
    "Table",
    "check_output_path",
    "check_table_options",
    "existing_file",
    "label_index",
    "load_npy",
    "load_table",
    "open_sink",
    "open_source",
    "read_npz",
    "read_table",
    "write_scores",
]
