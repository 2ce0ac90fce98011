"""Where the time goes: cProfile of the validation core and the pipeline, and py-spy stack summaries.

    .venv/bin/python -m benchmarks.hotspots [--quick] [--json FILE]

Profiles (deterministic, cProfile; the profiler's own overhead inflates many small calls, so read the
*shares*, not the absolute times):

- ``ours 3KB`` / ``pipeline 3KB``: the validation core and the full pipeline over the 3KB corpus;
- ``ours 5MB``: the validation core on one 5 MB message (the record reader and the rules at scale).

For each: the functions with the most own time (``tottime``) as microseconds per message and share of
the total, and the cumulative time of the pipeline's stages. :func:`summarise_collapsed` turns a py-spy
``--format raw`` recording (used by ``benchmarks.load_http`` on the running server) into the same kind
of table, per thread.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.messages import corpus, make_round

__all__ = ["main", "profile_round", "summarise_collapsed"]

_LINE = re.compile(r":\d+\)$")
#: Start-up frames every server stack has (they say nothing about where the time goes).
_ENTRY_FRAMES = ("(gateway/__main__.py)", "(gateway/cli.py)", "run_serve (gateway/service/serve.py)")

#: Cumulative figures reported for these functions (the pipeline's stages), when they were called.
STAGES = (
    ("gateway/pipeline.py", "process"),
    ("gateway/validation.py", "check"),
    ("gateway/intake/transport.py", "parse_xml"),
    ("gateway/schema.py", "schema_findings"),
    ("gateway/validation.py", "_rules"),
    ("gateway/model.py", "read_declaration"),
    ("gateway/rules/registry.py", "run_rules"),
    ("gateway/retour/__init__.py", "build_answer"),
    ("gateway/minimise.py", "step"),
    ("gateway/minimise.py", "minimise"),
    ("benchmarks/messages.py", "billing_json"),
)


def _short(path: str) -> str:
    for marker in ("/gateway/", "/filters/", "/benchmarks/", "/lib/python"):
        index = path.find(marker)
        if index >= 0:
            return path[index + 1 :]
    return path


def profile_round(name: str, variant: str, corpus_name: str, repeats: int, top: int = 15) -> dict[str, Any]:
    """cProfile ``repeats`` rounds of ``variant`` over a corpus (after a warm-up round)."""
    c = corpus(corpus_name)
    round_ = make_round(variant, c)
    round_()
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(repeats):
        round_()
    profile.disable()
    stats: Any = pstats.Stats(profile)
    messages = repeats * c.count
    entries = stats.stats  # {(file, line, function): (primitive calls, calls, tottime, cumtime, callers)}
    total = sum(value[2] for value in entries.values())
    rows = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)[:top]
    own = [
        {
            "function": f"{_short(file)}:{line}({function})",
            "calls_per_message": value[1] / messages,
            "own_us_per_message": value[2] / messages * 1e6,
            "cumulative_us_per_message": value[3] / messages * 1e6,
            "share": value[2] / total if total else 0.0,
        }
        for (file, line, function), value in rows
    ]
    stages = []
    for suffix, function in STAGES:
        cumulative = sum(
            value[3]
            for (file, _line, fn), value in entries.items()
            if fn == function and file.endswith(suffix)
        )
        if cumulative:
            stages.append(
                {
                    "function": f"{suffix}({function})",
                    "cumulative_us_per_message": cumulative / messages * 1e6,
                    "share": cumulative / total if total else 0.0,
                }
            )
    return {
        "name": name,
        "variant": variant,
        "corpus": corpus_name,
        "messages": messages,
        "total_us_per_message": total / messages * 1e6,
        "own_time": own,
        "stages": stages,
    }


def summarise_collapsed(lines: Iterable[str], top: int = 12) -> dict[str, Any]:
    """Summarise py-spy ``--format raw --threads`` output: samples per thread, top own and inclusive frames.

    py-spy counts a thread blocked in a system call (fsync, a write) as active, so these are shares of
    *busy wall time*, which includes kernel time; idle threads are not sampled.
    """
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    own_by_thread: dict[str, Counter[str]] = {}
    total = 0
    for line in lines:
        stack, _, count_text = line.rstrip("\n").rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        thread = next((f for f in frames[:4] if f.startswith("thread (")), "thread (?)")
        name = thread.split(": ", 1)[-1]
        if frames[0].startswith("process ") and "multiprocessing" in stack.split("thread (", 1)[0]:
            name = f"pool process {name}"
        threads[name] += count
        code = [f for f in frames if not f.startswith(("thread (", "process ")) and "spawn_main(" not in f]
        if code:
            own[code[-1]] += count
            own_by_thread.setdefault(name, Counter())[code[-1]] += count
        for frame in {_LINE.sub(")", f) for f in code}:
            if ("(gateway/" in frame or "(filters/" in frame) and not frame.endswith(_ENTRY_FRAMES):
                inclusive[frame] += count
    share = (lambda n: n / total) if total else (lambda n: 0.0)
    return {
        "samples": total,
        "threads": {name: share(n) for name, n in threads.most_common()},
        "own": [{"frame": f, "share": share(n)} for f, n in own.most_common(top)],
        "own_by_thread": {
            name: [{"frame": f, "share": share(n)} for f, n in counter.most_common(6)]
            for name, counter in own_by_thread.items()
        },
        "inclusive_gateway": [{"frame": f, "share": share(n)} for f, n in inclusive.most_common(top)],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.hotspots", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--json", type=Path, default=None, help="write the profiles as JSON to FILE")
    args = parser.parse_args(argv)
    repeats = 4 if args.quick else 20
    profiles = [
        profile_round("validation core, 3KB", "ours", "3KB", repeats),
        profile_round("full pipeline, 3KB", "pipeline", "3KB", repeats),
        profile_round("validation core, 5MB", "ours", "5MB", 1 if args.quick else 2),
    ]
    for p in profiles:
        print(f"\n{p['name']}: {p['total_us_per_message']:,.1f} us/msg under cProfile")
        for row in p["own_time"][:10]:
            print(f"  {row['share']:6.1%} {row['own_us_per_message']:>10,.1f} us  {row['function']}")
    if args.json is not None:
        args.json.write_text(json.dumps({"profiles": profiles}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
