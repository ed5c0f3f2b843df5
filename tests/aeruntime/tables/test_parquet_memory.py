"""Parquet input memory follows --batch-size, not the row-group size (#13).

A child process streams a file written as **one row group** through
``aeruntime.tables.open_source`` and prints its own peak RSS (``VmHWM``: after
``exec`` the child's high-water mark is its own, whatever pytest holds). Reading
whole row groups (the previous reader) grows the peak by about 75% from 200k to
2M rows of 16 float32 columns here; buffered page reads keep it within a few percent.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SUBPROCESS_ENV as ENV

pa = pytest.importorskip("pyarrow", reason="needs pyarrow: the table tests run with aeruntime[tables]")
pq = pytest.importorskip("pyarrow.parquet")
CHILD = r"""
import sys
from aeruntime.tables import open_source

n = 0
for chunk in open_source(sys.argv[1], 65536):
    n += len(chunk)
print(n, next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")))
"""


def peak_kb(path: Path) -> tuple[int, int]:
    p = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], check=False, env=ENV, capture_output=True, text=True, timeout=300
    )
    assert p.returncode == 0, p.stderr
    rows, kb = p.stdout.split()
    return int(rows), int(kb)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="VmHWM is read from Linux /proc")
def test_parquet_peak_rss_is_flat_from_200k_to_2m_rows(tmp_path):
    rng = np.random.default_rng(0)
    peaks = {}
    for n in (200_000, 2_000_000):
        path = tmp_path / f"x{n}.parquet"
        table = pa.table({f"f{j}": rng.standard_normal(n, dtype=np.float32) for j in range(16)})
        pq.write_table(table, path, row_group_size=n)  # one row group: the worst case
        del table
        rows, peaks[n] = peak_kb(path)
        assert rows == n
        path.unlink()
    data_mb = 2_000_000 * 16 * 4 / 2**20  # 122 MB of features in the large file's single row group
    growth_mb = (peaks[2_000_000] - peaks[200_000]) / 1024
    assert peaks[2_000_000] < 1.25 * peaks[200_000], peaks
    assert growth_mb < 0.3 * data_mb, (growth_mb, peaks)


LOAD_CHILD = r"""
import sys
import numpy as np
from aeruntime.tables import load

if sys.argv[2] == "concatenate":  # the reader before #21: chunks kept, then concatenated
    original = load._Rows.__init__
    load._Rows.__init__ = lambda self, n_rows: original(self, None)
load.load_table(sys.argv[1], dtype=np.float32, mmap=True)  # warm: imports, pools
before = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS"))
t = load.load_table(sys.argv[1], dtype=np.float32)
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(t.X.shape[0], t.X.dtype, hwm - before)
"""


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="VmHWM is read from Linux /proc")
def test_a_parquet_table_is_read_into_one_array_sized_from_its_metadata(tmp_path):
    """load_table fills one float32 array of the row count in the file's metadata: the peak grows by
    the matrix and one chunk, not by the chunks plus their concatenation (twice the matrix)."""
    n, path = 1_000_000, tmp_path / "x.parquet"
    rng = np.random.default_rng(0)
    pq.write_table(pa.table({f"f{j}": rng.standard_normal(n, dtype=np.float32) for j in range(32)}), path)
    matrix_kb = n * 32 * 4 / 1024
    growth = {}
    for mode in ("metadata", "concatenate"):
        p = subprocess.run(
            [sys.executable, "-c", LOAD_CHILD, str(path), mode], env=ENV, capture_output=True, text=True, timeout=300
        )
        assert p.returncode == 0, p.stderr
        rows, dtype, kb = p.stdout.split()
        assert (int(rows), dtype) == (n, "float32")
        growth[mode] = int(kb) / matrix_kb
    assert growth["metadata"] < 1.6, growth  # measured 1.32 (one float64 chunk and its Arrow pages on top)
    assert growth["concatenate"] > growth["metadata"] + 0.5, growth  # the test can tell the two apart
