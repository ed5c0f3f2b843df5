"""The benchmarks' harness: timing, side-by-side interleaving, child memory peaks, recording.

Every script in ``benchmarks/`` holds only its measurement; what they share lives here:

- the command line: :func:`parser` (description from the docstring, ``--out FILE`` / ``--record``);
- timing: :func:`time_call` (warm-up, repeats, calls per repeat) gives a :class:`Timing`
  (``best``, ``median``); :func:`interleaved` times a candidate against references side by side,
  each repeat running every runner in turn (the order reversed every other repeat, so a change of
  load hits all alike), :func:`side_by_side` does the same for whole jobs (one call a sample),
  :func:`latency_throughput` gives batch-1 µs/call and large-batch rows/s, and :func:`ratios`
  divides each figure by a reference's;
- memory: :func:`child_peak` runs a command and reads the child's own peak resident set size
  (``ru_maxrss`` from ``os.wait4``); :data:`VMHWM` is the line a child prints for its high-water
  mark before its interpreter's teardown (:meth:`ChildRun.printed_mb` reads it);
  :func:`tree_peak_kib` is the largest process of a command's tree;
- recording: :func:`write` puts a result block (title, the exact command line, the machine, the
  date, the body) into ``--out FILE``, the tracked ``benchmarks/results/<name>.md`` (``--record``)
  or, by default, a scratch file under the system temp directory, so a trial run never overwrites
  recorded results; :func:`append` adds a section to such a file.

The clock and the pause between runners are parameters, so the protocol is tested with a fake
clock (``tests/benchmarks/test_harness.py``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

RESULTS = Path(__file__).resolve().parent / "results"
#: where results go unless --out or --record says otherwise
SCRATCH = Path(tempfile.gettempdir()) / "aeexport-benchmarks"
#: the repository root (scripts' children get it and ``runtime/`` on PYTHONPATH)
ROOT = Path(__file__).resolve().parents[1]
#: python source a child runs last to print its own peak RSS so far (KiB), before its teardown
VMHWM = 'print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")))'

T = TypeVar("T")
Clock = Callable[[], float]


# -- command line ---------------------------------------------------------------------------------


def add_output_args(ap: argparse.ArgumentParser) -> None:
    """``--out FILE`` and ``--record`` (write the tracked benchmarks/results/<name>.md)."""
    group = ap.add_mutually_exclusive_group()
    group.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"write the markdown result here (default: a scratch file under {SCRATCH})",
    )
    group.add_argument(
        "--record", action="store_true", help="write the tracked benchmarks/results/<name>.md that the README quotes"
    )


def parser(doc: str, *, output: bool = True, raw: bool = False) -> argparse.ArgumentParser:
    """An argument parser described by ``doc``'s first line (the whole of it if ``raw``),
    with ``--out`` / ``--record`` unless ``output`` is false."""
    if raw:
        ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    else:
        ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    if output:
        add_output_args(ap)
    return ap


def result_path(name: str, out: Path | None = None, record: bool = False) -> Path:
    """The file a benchmark writes: ``out``, the tracked result (``record``), or a scratch file."""
    if out is not None:
        return Path(out)
    return (RESULTS if record else SCRATCH) / f"{name}.md"


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment with the repository and ``runtime/`` first on PYTHONPATH."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "runtime")]), **extra}


# -- timing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Seconds per call of each repeat, in the order measured."""

    samples: tuple[float, ...]

    @property
    def best(self) -> float:
        return min(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def time_call(
    fn: Callable[..., Any],
    *args: Any,
    repeats: int,
    calls: int = 1,
    warmup: int = 1,
    clock: Clock = time.perf_counter,
) -> Timing:
    """``warmup`` untimed calls of ``fn(*args)``, then ``repeats`` timings of ``calls`` calls each."""
    for _ in range(warmup):
        fn(*args)
    samples = []
    for _ in range(repeats):
        t0 = clock()
        for _ in range(calls):
            fn(*args)
        samples.append((clock() - t0) / calls)
    return Timing(tuple(samples))


def order(names: Sequence[str], repeat: int) -> list[str]:
    """The runners' order in repeat ``repeat``: as given on even repeats, reversed on odd ones."""
    return list(names) if repeat % 2 == 0 else list(reversed(names))


def interleave(samplers: Mapping[str, Callable[[], T]], repeats: int) -> dict[str, list[T]]:
    """Side by side: each repeat takes one sample of every sampler, in :func:`order`."""
    samples: dict[str, list[T]] = {k: [] for k in samplers}
    for r in range(repeats):
        for k in order(list(samplers), r):
            samples[k].append(samplers[k]())
    return samples


def interleaved(
    runners: Mapping[str, Callable[[Any], Any]],
    x: Any,
    repeats: int,
    calls: int = 1,
    *,
    clock: Clock = time.perf_counter,
    pause: float = 0.05,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Timing]:
    """Time ``runner(x)`` of every runner side by side (:func:`interleave`); seconds per call.

    Each runner is warmed first (``max(3, min(calls, 50))`` calls); in each repeat, before its
    timed ``calls`` calls, a runner gets ``pause`` seconds (so the previous runner's thread pool
    stops spinning: onnxruntime's workers spin after each parallel run and would steal the cores)
    and one untimed call.
    """
    for f in runners.values():
        for _ in range(max(3, min(calls, 50))):
            f(x)

    def sampler(f: Callable[[Any], Any]) -> Callable[[], float]:
        def sample() -> float:
            sleep(pause)
            return time_call(f, x, repeats=1, calls=calls, warmup=1, clock=clock).samples[0]

        return sample

    samples = interleave({k: sampler(f) for k, f in runners.items()}, repeats)
    return {k: Timing(tuple(v)) for k, v in samples.items()}


def side_by_side(
    jobs: Mapping[str, Callable[[], Any]], repeats: int, warmup: int = 1, clock: Clock = time.perf_counter
) -> dict[str, Timing]:
    """Whole jobs (no argument, one call each a sample) warmed ``warmup`` times each, then timed in turn
    (:func:`interleave`): for jobs too slow for :func:`interleaved`'s extra calls."""
    for job in jobs.values():
        for _ in range(warmup):
            job()
    samplers = {
        k: lambda job=job: time_call(job, repeats=1, warmup=0, clock=clock).samples[0] for k, job in jobs.items()
    }
    return {k: Timing(tuple(v)) for k, v in interleave(samplers, repeats).items()}


def latency_throughput(
    runners: Mapping[str, Callable[[Any], Any]], big: Any, repeats: int, calls: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Side by side on the first row of ``big`` (µs per call, ``calls`` per repeat) and on all of it
    (rows/s, one call per repeat): the medians of :func:`interleaved`."""
    one = big[:1].copy()
    lat = {k: t.median * 1e6 for k, t in interleaved(runners, one, repeats, calls).items()}
    thr = {k: len(big) / t.median for k, t in interleaved(runners, big, repeats).items()}
    return lat, thr


def medians(samples: Mapping[str, Iterable[float]]) -> dict[str, float]:
    """The median of each name's samples."""
    return {k: statistics.median(list(v)) for k, v in samples.items()}


def ratios(values: Mapping[str, float], reference: str) -> dict[str, float]:
    """Each value divided by the reference's (a time ratio: below 1 is faster than the reference)."""
    return {k: v / values[reference] for k, v in values.items()}


# -- memory ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildRun:
    """A finished child: its own peak RSS (MB, ``ru_maxrss`` from ``os.wait4``), wall seconds, output."""

    peak_mb: float
    seconds: float
    stdout: str
    stderr: str

    def printed_mb(self, stream: str = "stdout") -> float:
        """The last line the child printed on ``stream``, read as KiB (a :data:`VMHWM` line), in MB."""
        return float((self.stdout if stream == "stdout" else self.stderr).strip().splitlines()[-1]) / 1024


def child_peak(cmd: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None) -> ChildRun:
    """Run ``cmd`` to completion and measure it; a failing child raises with the end of its stderr.

    The peak is the child's own (``wait4``'s rusage of that pid), not the largest of all children.
    On Linux a child's ``ru_maxrss`` starts from its parent's high-water mark at fork, so a parent
    that holds big arrays should measure from a small process. Output goes to temporary files (a
    full pipe would block the child while this process waits).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(cmd), env=None if env is None else dict(env), cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if code != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {code}: {stderr[-2000:]}")
    return ChildRun(usage.ru_maxrss / 1024, seconds, stdout, stderr)


#: a fresh Python parent that runs argv[1:] and prints the peak RSS of that process tree (KiB)
_TREE_MAXRSS = (
    "import resource, subprocess, sys; "
    "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def tree_peak_kib(cmd: Sequence[str]) -> int:
    """The peak RSS (KiB) of the largest process in ``cmd``'s tree (``RUSAGE_CHILDREN`` of a fresh,
    small Python parent, so this process's own high-water mark does not leak into it)."""
    r = subprocess.run([sys.executable, "-c", _TREE_MAXRSS, *cmd], capture_output=True, text=True, check=True)
    return int(r.stdout)


# -- recording ------------------------------------------------------------------------------------


def machine() -> str:
    """CPU model, cores, OS, Python and the load average at start, on one line."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, load average {load:.2f} at start"
    )


def command(argv: Sequence[str] | None = None) -> str:
    """The exact command line that ran this benchmark, as the results quote it."""
    argv = sys.argv if argv is None else argv
    return "python " + " ".join([os.path.relpath(argv[0])] + list(argv[1:]))


def render(title: str, body: Sequence[str], *, cmd: str, host: str, when: time.struct_time) -> str:
    """A result block: title, command, machine, date, then the body."""
    head = [
        f"# {title}",
        "",
        f"command: `{cmd}`  ",
        f"machine: {host}  ",
        f"date: {time.strftime('%Y-%m-%d %H:%M UTC', when)}",
        "",
    ]
    return "\n".join([*head, *body]) + "\n"


def write(name: str, title: str, body: Sequence[str], out: Path | None = None, record: bool = False) -> Path:
    """Write the result block (see :func:`result_path`, :func:`render`); print it too."""
    path = result_path(name, out, record)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render(title, body, cmd=command(), host=machine(), when=time.gmtime())
    path.write_text(text, encoding="utf-8")
    print(text)
    print(f"wrote {path}", file=sys.stderr)
    return path


def append(name: str, text: str, out: Path | None = None, record: bool = False) -> Path:
    """Append ``text`` (a section that names its own command) to the result file; print it too."""
    print(text)
    path = result_path(name, out, record)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text + "\n")
    print(f"appended to {path}", file=sys.stderr)
    return path
