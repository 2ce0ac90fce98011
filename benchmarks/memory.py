"""Memory: peak RSS growth of one large message, and RSS over many messages through the pipeline.

    .venv/bin/python -m benchmarks.memory [--messages N] [--quick] [--json FILE]

``peak``
    For the 5MB and 25MB JW323 messages of :mod:`benchmarks.messages` and each of ``raw_lxml`` (parse +
    validate), ``ours`` (the validation core) and ``pipeline`` (validate + answer + minimise + billing
    JSON): a *fresh* interpreter builds the variant, warms it up on a 3 KB message, collects garbage,
    resets the kernel's peak-RSS counter (``/proc/self/clear_refs``), notes ``VmRSS``, handles the message
    once, and reads ``VmHWM``. Growth = peak - RSS before; the target is growth <= 10x the message size
    for the validation core on the 25 MB message.
``soak``
    A fresh interpreter generates ``N`` distinct valid 3 KB JW323 messages one at a time (seeded, never
    held) and runs each through the full pipeline (with billing JSON), sampling ``VmRSS`` and the time
    every ``N / 200`` messages. After a warm-up of the first 10 % of the messages, growth = (highest RSS
    after the warm-up - RSS at the end of the warm-up) / RSS at the end of the warm-up; the target is
    <= 5 %.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import procstat

__all__ = ["main", "peak_growth", "soak"]

PEAK_VARIANTS = ("raw_lxml", "ours", "pipeline")
PEAK_SIZES = ("5MB", "25MB")
WARM_UP_SHARE = 0.10
CHILD_TIMEOUT = 300.0


def _child(arguments: list[str]) -> dict[str, Any]:
    """Run this module in a fresh interpreter and return the JSON it prints."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", *arguments],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory child {arguments[:2]} failed: {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _peak_child(variant: str, path: Path) -> dict[str, Any]:
    from benchmarks.messages import Corpus, corpus, make_round  # noqa: PLC0415

    small = corpus("3KB")
    warm = make_round(variant, Corpus(small.spec, small.messages[:1], small.xml[:1]))
    if warm() != 1:
        raise RuntimeError("warm-up message not valid")
    data = path.read_bytes()
    big = Corpus(small.spec, (data,), (data,))
    run = make_round(variant, big)
    gc.collect()
    reset = procstat.reset_peak_rss()
    before = procstat.status_bytes("self", "VmRSS")
    started = time.process_time()
    valid = run()
    cpu = time.process_time() - started
    peak = procstat.status_bytes("self", "VmHWM")
    after = procstat.status_bytes("self", "VmRSS")
    return {
        "variant": variant,
        "message_bytes": len(data),
        "valid": valid == 1,
        "peak_reset": reset,
        "rss_before_bytes": before,
        "peak_bytes": peak,
        "rss_after_bytes": after,
        "growth_bytes": peak - before,
        "growth_x_message": (peak - before) / len(data),
        "cpu_s": round(cpu, 3),
    }


def peak_growth(sizes: Sequence[str] = PEAK_SIZES) -> list[dict[str, Any]]:
    """Peak RSS growth per (size, variant), each in a fresh interpreter."""
    from benchmarks.messages import corpus  # noqa: PLC0415

    results = []
    with tempfile.TemporaryDirectory(prefix="jwmo-bench-memory-") as tmp:
        for size in sizes:
            path = Path(tmp) / f"{size}.xml"
            path.write_bytes(corpus(size).messages[0])
            for variant in PEAK_VARIANTS:
                result = _child(["--peak-child", variant, str(path)])
                result["size"] = size
                results.append(result)
                print(
                    f"peak {size:>5} {variant:<9} growth {result['growth_bytes'] / 2**20:7.1f} MiB = "
                    f"{result['growth_x_message']:.2f}x the message ({result['cpu_s']} s CPU)",
                    flush=True,
                )
    return results


def _soak_child(messages: int, samples: int) -> dict[str, Any]:
    from benchmarks.messages import SOURCE, TODAY, billing_json, pipeline_environment  # noqa: PLC0415
    from gateway.pipeline import process  # noqa: PLC0415
    from gateway.testing.builders import random_declaration, render  # noqa: PLC0415

    env = pipeline_environment()
    every = max(1, messages // samples)
    points: list[dict[str, float]] = []
    started = time.perf_counter()
    cpu0 = time.process_time()
    valid = 0
    points.append({"messages": 0, "t": 0.0, "rss_bytes": procstat.status_bytes("self", "VmRSS")})
    for index in range(messages):
        rng = random.Random(90_000_000 + index)
        data = render(random_declaration(rng, clients=1, lines_per_client=2, today=TODAY))
        outcome = process(data, SOURCE, env)
        billing_json(outcome)
        valid += outcome.verdict.valid
        if (index + 1) % every == 0:
            points.append(
                {
                    "messages": index + 1,
                    "t": round(time.perf_counter() - started, 3),
                    "rss_bytes": procstat.status_bytes("self", "VmRSS"),
                }
            )
    warm_index = max(1, round(len(points) * WARM_UP_SHARE))
    warm_rss = points[warm_index]["rss_bytes"]
    after = [p["rss_bytes"] for p in points[warm_index:]]
    return {
        "messages": messages,
        "valid": valid,
        "seconds": round(time.perf_counter() - started, 3),
        "cpu_s": round(time.process_time() - cpu0, 3),
        "warm_up_messages": points[warm_index]["messages"],
        "rss_at_warm_up_bytes": warm_rss,
        "rss_max_after_warm_up_bytes": max(after),
        "rss_final_bytes": after[-1],
        "growth_max": (max(after) - warm_rss) / warm_rss,
        "growth_final": (after[-1] - warm_rss) / warm_rss,
        "samples": points,
    }


def soak(messages: int) -> dict[str, Any]:
    """RSS over ``messages`` pipeline runs, in a fresh interpreter."""
    result = _child(["--soak-child", str(messages)])
    print(
        f"soak {messages:,} messages in {result['seconds']} s: RSS "
        f"{result['rss_at_warm_up_bytes'] / 2**20:.1f} MiB after warm-up, "
        f"max {result['rss_max_after_warm_up_bytes'] / 2**20:.1f} MiB "
        f"({result['growth_max']:+.2%}), final {result['growth_final']:+.2%}",
        flush=True,
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000, help="soak messages (default 100000)")
    parser.add_argument("--quick", action="store_true", help="soak 20000 messages")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON to FILE")
    parser.add_argument("--peak-child", nargs=2, metavar=("VARIANT", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--soak-child", type=int, metavar="N", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peak_child is not None:
        print(json.dumps(_peak_child(args.peak_child[0], Path(args.peak_child[1]))))
        return 0
    if args.soak_child is not None:
        print(json.dumps(_soak_child(args.soak_child, samples=200)))
        return 0
    messages = min(args.messages, 20_000) if args.quick else args.messages
    if not 1_000 <= messages <= 1_000_000:
        parser.error("--messages must be between 1000 and 1000000")
    results = {"peak": peak_growth(), "soak": soak(messages)}
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
