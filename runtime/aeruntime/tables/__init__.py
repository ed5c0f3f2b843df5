"""Reading input tables in chunks: ``.npy``, ``.npz``, ``.csv``, ``.parquet``; one module per format.

The one reader of the runtime: ``aeruntime score/encode/decode/reconstruct`` stream
through it, and :func:`aeruntime.io.read_table` (aeexport's data loading) reads a
whole file by joining its chunks. Writers live in :mod:`aeruntime.sinks`.

:func:`open_source` (:mod:`.reader`) returns a :class:`Source` (:mod:`.source`) that
yields :class:`Chunk` objects of at most ``batch_size`` rows:

- ``.npy`` (:mod:`.npy`): memory-mapped; after each chunk the pages just read are
  released (``madvise(MADV_DONTNEED)``), because file-backed pages a process has
  touched count in its resident set: without that, peak RSS would grow with the file;
- ``.csv`` (:mod:`.csv`): the file is cut into pieces of a few MiB at line ends, each
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
is given (the bundle's training columns; the rule is :mod:`aeruntime.columns`):
extra columns are ignored and listed in :attr:`Source.ignored`, missing ones raise
:class:`InvalidInputError`. Without names they are read positionally. Arrays are
always positional. Rows are checked by the one row rule, :mod:`aeruntime.rows`.
pyarrow is imported only when a table is read. Nothing here unpickles:
``np.load(..., allow_pickle=False)``.
"""

from __future__ import annotations

from .npy import load_npy, read_npz
from .reader import open_source
from .source import INPUT_SUFFIXES, TABLE_SUFFIXES, Chunk, Source, check_table_options, existing_file, label_index

__all__ = [
    "INPUT_SUFFIXES",
    "TABLE_SUFFIXES",
    "Chunk",
    "Source",
    "check_table_options",
    "existing_file",
    "label_index",
    "load_npy",
    "open_source",
    "read_npz",
]
