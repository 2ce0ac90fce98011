"""The load harness: every benchmark section, the raw results as JSON, and ``BENCHMARKS.md``.

    .venv/bin/python -m benchmarks.load [--quick] [--sections micro memory hotspots http kafka]
                                        [--results-dir benchmarks/results] [--markdown BENCHMARKS.md]

Runs each section in its own interpreter (so one section's heap, threads or servers never disturb the
next), one after the other, each bounded by a time limit:

========  ==========================================================================  =================
section   what                                                                          module
========  ==========================================================================  =================
micro     validation by size and type, pipeline stages, billing, minimisation             benchmarks.micro
          (interleaved, CPU time; raw lxml and xmlschema side by side; the core ratios
          of ``benchmarks.compare``)
memory    peak RSS growth of a 5 MB and a 25 MB message; RSS over 100,000 messages       benchmarks.memory
hotspots  cProfile of the validation core and the pipeline                               benchmarks.hotspots
http      ``jwmo-gateway serve`` with 1 and 2 workers: peak, half-peak open loop          benchmarks.load_http
kafka     ``jwmo-gateway worker`` (1 and 2 workers) against a Tansu broker              benchmarks.load_kafka
========  ==========================================================================  =================

then writes ``<results-dir>/results.json`` (machine, settings, every section's raw data or its error),
the PNG plots (if matplotlib is installed) and the Markdown report. The full run takes about 6-7 minutes
on a 2-core machine, ``--quick`` about 3. Everything is on loopback; every server, broker and worker a
section starts is stopped when the section ends, fails, times out or is interrupted (Ctrl-C / SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import procstat, report

__all__ = ["SECTIONS", "main"]

#: section -> (module, time limit of a full run in s, time limit of a quick run in s)
SECTIONS: dict[str, tuple[str, float, float]] = {
    "micro": ("benchmarks.micro", 420, 180),
    "memory": ("benchmarks.memory", 300, 150),
    "hotspots": ("benchmarks.hotspots", 180, 90),
    "http": ("benchmarks.load_http", 300, 150),
    "kafka": ("benchmarks.load_kafka", 420, 240),
}
GRACE = 30.0  # seconds a section gets to clean up after SIGTERM / Ctrl-C before it is killed


class _StoppedError(Exception):
    """SIGTERM to the harness: stop the running section and exit."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise _StoppedError


def _terminate(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_section(name: str, quick: bool, extra: Sequence[str] = ()) -> dict[str, Any]:
    """Run one section's module with ``--json``; its data, or the error, and how long it took."""
    module, limit, quick_limit = SECTIONS[name]
    timeout = quick_limit if quick else limit
    with tempfile.TemporaryDirectory(prefix=f"jwmo-bench-{name}-") as tmp:
        out = Path(tmp) / "section.json"
        command = [sys.executable, "-m", module, "--json", str(out), *(["--quick"] if quick else []), *extra]
        print(f"\n=== {name}: {' '.join(command[1:3])}{' --quick' if quick else ''} (limit {timeout:.0f} s)")
        started = time.perf_counter()
        process = subprocess.Popen(command)
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _terminate(process)
            return {
                "error": f"timed out after {timeout:.0f} s",
                "elapsed_s": round(time.perf_counter() - started, 1),
            }
        except KeyboardInterrupt:  # Ctrl-C reached the section too (same process group): let it clean up
            try:
                process.wait(timeout=GRACE)
            except subprocess.TimeoutExpired:
                _terminate(process)
            raise
        except _StoppedError:
            _terminate(process)
            raise
        elapsed = round(time.perf_counter() - started, 1)
        if returncode != 0 or not out.exists():
            return {"error": f"exit status {returncode}", "elapsed_s": elapsed}
        return {"data": json.loads(out.read_text(encoding="utf-8")), "elapsed_s": elapsed}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (~3 minutes)")
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=list(SECTIONS),
        default=list(SECTIONS),
        help="sections to run (default all)",
    )
    parser.add_argument(
        "--results-dir", type=Path, default=Path("benchmarks/results"), help="JSON and PNG output"
    )
    parser.add_argument("--markdown", type=Path, default=Path("BENCHMARKS.md"), help="the report to write")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "command": "python -m benchmarks.load" + (" --quick" if args.quick else ""),
        "quick": args.quick,
        "machine": procstat.machine_info(),
        "sections": {},
    }
    machine0 = procstat.CpuTimes.now()
    try:
        for name in args.sections:
            results["sections"][name] = run_section(name, args.quick)
            section = results["sections"][name]
            status = section.get("error") or "ok"
            print(f"=== {name}: {status} in {section['elapsed_s']} s", flush=True)
    except (KeyboardInterrupt, _StoppedError):
        print("\ninterrupted: every section process was stopped; nothing written", file=sys.stderr)
        return 130
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    results["loadavg_end"] = list(os.getloadavg())
    results["machine_cpu"] = procstat.CpuTimes.now().since(machine0)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    plots = report.write(results, args.results_dir, args.markdown)
    print(
        f"\nwrote {args.results_dir / 'results.json'}, {args.markdown}"
        + (f" and {len(plots)} plots" if "error" not in plots else f" (no plots: {plots['error']})")
        + f" in {results['elapsed_s'] / 60:.1f} min"
    )
    failed = [name for name, section in results["sections"].items() if "error" in section]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
