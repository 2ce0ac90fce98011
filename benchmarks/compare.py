"""Interleaved comparison of the validation variants: CPU time per message and the performance targets.

Run with ``.venv/bin/python -m benchmarks.compare [--json FILE]``. Measures the variants of
:mod:`benchmarks.messages` (raw lxml, raw lxml with a reused parser, our validation core, the full
pipeline, xmlschema) on each message size with the method of ``performance.md``:

- every variant is built and warmed up (one round, which must find every message valid) before timing;
- a *sample* repeats whole rounds (every corpus message validated once) until it has taken at least
  ``--min-sample`` seconds of wall time (default 0.2 s), recording CPU time (``time.process_time``) and
  wall time (``time.perf_counter``);
- samples are interleaved: A B C D, B C D A, C D A B, ... (the order rotates every round), ``--samples``
  rounds (default 7), so a noisy neighbour hits every variant alike;
- figures are medians over the samples. The headline figure is CPU time per message (per core): on a
  shared machine wall time also counts time spent waiting for a core;
- corpora of 1 MB and more get at most 3 samples (one round is already 0.1-3 s).

Targets checked (on CPU time, clarifications item 22): the validation core's throughput is at least 80 %
of raw lxml's (against both baselines) and at least 20 times xmlschema's; the full pipeline's is at least
60 % of raw lxml's. The load harness (``python -m benchmarks.load``) calls :func:`compare_corpus`.

The script does not use pytest; the pytest-benchmark suite in ``benchmarks/test_validation.py`` measures
the same variants one after another.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from lxml import etree

from benchmarks.messages import (
    ALL_CORPORA,
    SIZES,
    VARIANTS,
    Corpus,
    Round,
    corpus,
    jw323_spec,
    make_round,
    variants_for,
)

#: Minimum throughput of ours relative to raw lxml (CPU time per message).
TARGET_VS_LXML = 0.80
#: Minimum speed-up of ours over xmlschema (CPU time per message).
TARGET_VS_XMLSCHEMA = 20.0
#: Minimum throughput of the full pipeline relative to raw lxml (CPU time per message).
TARGET_PIPELINE_VS_LXML = 0.60
#: Corpora whose messages are at least this large get at most :data:`BIG_SAMPLES` samples.
BIG_BYTES = 1_000_000
BIG_SAMPLES = 3


@dataclass(frozen=True, slots=True)
class Sample:
    """One timed sample: ``rounds`` whole rounds over ``messages`` messages each."""

    rounds: int
    messages: int
    cpu_s: float
    wall_s: float

    @property
    def cpu_us_per_message(self) -> float:
        return self.cpu_s / (self.rounds * self.messages) * 1e6

    @property
    def wall_us_per_message(self) -> float:
        return self.wall_s / (self.rounds * self.messages) * 1e6


@dataclass(frozen=True, slots=True)
class Summary:
    """Medians of one variant on one corpus."""

    variant: str
    cpu_us_per_message: float
    wall_us_per_message: float
    cpu_spread: float  # interquartile range / median of the per-sample CPU figures
    messages_per_s_cpu: float
    mb_per_s_cpu: float


def measure(round_: Round, expected: int, messages: int, min_seconds: float) -> Sample:
    """Repeat ``round_`` until at least ``min_seconds`` of wall time have passed; every round is checked."""
    perf_counter, process_time = time.perf_counter, time.process_time
    rounds = 0
    wall0, cpu0 = perf_counter(), process_time()
    while True:
        if round_() != expected:
            raise RuntimeError("a round found invalid messages")
        rounds += 1
        wall = perf_counter() - wall0
        if wall >= min_seconds:
            break
    cpu = process_time() - cpu0
    return Sample(rounds=rounds, messages=messages, cpu_s=cpu, wall_s=wall)


def _spread(values: Sequence[float]) -> float:
    if len(values) < 2:
        return 0.0
    q1, _, q3 = statistics.quantiles(values, n=4)
    return (q3 - q1) / statistics.median(values)


def summarise(variant: str, samples: Sequence[Sample], mean_bytes: float) -> Summary:
    """Medians (and the CPU spread) of one variant's samples."""
    cpu = [s.cpu_us_per_message for s in samples]
    wall = [s.wall_us_per_message for s in samples]
    cpu_median = statistics.median(cpu)
    return Summary(
        variant=variant,
        cpu_us_per_message=cpu_median,
        wall_us_per_message=statistics.median(wall),
        cpu_spread=_spread(cpu),
        messages_per_s_cpu=1e6 / cpu_median,
        mb_per_s_cpu=mean_bytes / cpu_median,  # bytes per microsecond = MB (10^6 B) per second
    )


def interleave(
    rounds: Mapping[str, tuple[Round, int, int]], samples: int, min_seconds: float
) -> dict[str, list[Sample]]:
    """Warm up, check and measure named rounds with interleaved, rotating samples.

    ``rounds`` maps a name to (round, the value every call must return, units handled per round); the
    per-unit figures of a sample divide by the last.
    """
    for name, (round_, expected, _) in rounds.items():  # warm-up and correctness check
        if round_() != expected:
            raise RuntimeError(f"{name}: a round returned another value than {expected}")
    results: dict[str, list[Sample]] = {name: [] for name in rounds}
    order = list(rounds)
    for index in range(samples):
        shift = index % len(order)
        for name in order[shift:] + order[:shift]:
            round_, expected, units = rounds[name]
            results[name].append(measure(round_, expected, units, min_seconds))
    return results


def run_size(
    messages: Corpus, variants: Sequence[str], samples: int, min_seconds: float
) -> dict[str, list[Sample]]:
    """Build, warm up and measure ``variants`` on one corpus with interleaved, rotating rounds."""
    count = messages.count
    rounds = {variant: (make_round(variant, messages), count, count) for variant in variants}
    return interleave(rounds, samples, min_seconds)


def targets(by_variant: dict[str, Summary]) -> dict[str, dict[str, float | bool]]:
    """The target checks that the measured variants allow: throughput ratios on CPU time."""
    checks: dict[str, dict[str, float | bool]] = {}
    ours = by_variant.get("ours")
    if ours is None:
        return checks
    for baseline in ("raw_lxml", "raw_lxml_reused_parser"):
        if baseline in by_variant:
            ratio = by_variant[baseline].cpu_us_per_message / ours.cpu_us_per_message
            checks[f"ours_vs_{baseline}"] = {
                "throughput_ratio": ratio,
                "target": TARGET_VS_LXML,
                "met": ratio >= TARGET_VS_LXML,
            }
    if "xmlschema" in by_variant:
        ratio = by_variant["xmlschema"].cpu_us_per_message / ours.cpu_us_per_message
        checks["ours_vs_xmlschema"] = {
            "speedup": ratio,
            "target": TARGET_VS_XMLSCHEMA,
            "met": ratio >= TARGET_VS_XMLSCHEMA,
        }
    pipeline = by_variant.get("pipeline")
    if pipeline is not None and "raw_lxml" in by_variant:
        ratio = by_variant["raw_lxml"].cpu_us_per_message / pipeline.cpu_us_per_message
        checks["pipeline_vs_raw_lxml"] = {
            "throughput_ratio": ratio,
            "target": TARGET_PIPELINE_VS_LXML,
            "met": ratio >= TARGET_PIPELINE_VS_LXML,
        }
    return checks


def _ratio(value: float, by_variant: dict[str, Summary], baseline: str) -> str:
    reference = by_variant.get(baseline)
    return f"x{value / reference.cpu_us_per_message:.2f}" if reference is not None else "-"


def _title(messages: Corpus) -> str:
    name = messages.name
    return name if name.startswith(messages.message) else f"{messages.message} {name}"


def format_table(messages: Corpus, by_variant: dict[str, Summary]) -> list[str]:
    """The printed table of one size: one line per variant, then the target checks."""
    lines = [
        f"{_title(messages)}: {messages.count} distinct messages, mean {messages.mean_bytes:,.0f} B",
        f"  {'variant':<24} {'CPU us/msg':>11} {'wall us/msg':>12} {'msgs/s':>9} {'MB/s':>6} "
        f"{'spread':>7} {'time x raw_lxml':>16} {'time x reused':>14}",
    ]
    for variant in VARIANTS:
        s = by_variant.get(variant)
        if s is None:
            continue
        lines.append(
            f"  {variant:<24} {s.cpu_us_per_message:>11.1f} {s.wall_us_per_message:>12.1f} "
            f"{s.messages_per_s_cpu:>9,.0f} {s.mb_per_s_cpu:>6.1f} {s.cpu_spread:>7.1%} "
            f"{_ratio(s.cpu_us_per_message, by_variant, 'raw_lxml'):>16} "
            f"{_ratio(s.cpu_us_per_message, by_variant, 'raw_lxml_reused_parser'):>14}"
        )
    for name, check in targets(by_variant).items():
        verdict = "met" if check["met"] else "NOT met"
        if "speedup" in check:
            lines.append(
                f"  target: ours >= {check['target']:.0f}x xmlschema: "
                f"ours is {check['speedup']:.1f}x faster -> {verdict}"
            )
        else:
            who, _, baseline = name.partition("_vs_")
            lines.append(
                f"  target: {who} >= {check['target']:.0%} of {baseline} throughput: "
                f"{check['throughput_ratio']:.0%} -> {verdict}"
            )
    return lines


def samples_for(messages: Corpus, samples: int) -> int:
    """The number of samples for a corpus: at most :data:`BIG_SAMPLES` for messages of 1 MB and more."""
    return min(samples, BIG_SAMPLES) if messages.mean_bytes >= BIG_BYTES else samples


def compare_corpus(
    messages: Corpus, variants: Sequence[str], samples: int, min_seconds: float
) -> tuple[dict[str, Summary], dict[str, Any]]:
    """Measure ``variants`` (those that apply) on one corpus; the summaries and the JSON-ready record."""
    wanted = variants_for(messages.spec, [v for v in VARIANTS if v in variants])
    raw = run_size(messages, wanted, samples_for(messages, samples), min_seconds)
    by_variant = {v: summarise(v, raw[v], messages.mean_bytes) for v in wanted}
    record = {
        "corpus": {
            "message": messages.message,
            "messages": messages.count,
            "mean_bytes": messages.mean_bytes,
            "clients": messages.spec.clients,
            "lines_per_client": messages.spec.lines_per_client,
            "seeds": [messages.spec.first_seed, messages.spec.first_seed + messages.count - 1],
        },
        "variants": {
            v: {
                "summary": asdict(by_variant[v]),
                "samples": [{**asdict(s), "cpu_us_per_message": s.cpu_us_per_message} for s in raw[v]],
            }
            for v in wanted
        },
        "targets": targets(by_variant),
    }
    return by_variant, record


def environment() -> dict[str, Any]:
    """Versions and machine facts recorded with the raw results."""
    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "lxml": ".".join(map(str, etree.LXML_VERSION)),
        "libxml2": ".".join(map(str, etree.LIBXML_VERSION)),
        "schema": str(jw323_spec().schema_path),
    }
    try:
        info["xmlschema"] = metadata.version("xmlschema")
    except metadata.PackageNotFoundError:
        info["xmlschema"] = None
    return info


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare",
        description="Interleaved CPU-time comparison of our validation core with raw lxml and xmlschema.",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the raw results as JSON to FILE")
    parser.add_argument("--samples", type=int, default=7, help="interleaved samples per variant (default 7)")
    parser.add_argument(
        "--min-sample",
        type=float,
        default=0.2,
        metavar="SECONDS",
        help="minimum wall time of one sample (default 0.2)",
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        choices=list(ALL_CORPORA),
        default=list(SIZES),
        help="corpora: the JW323 sizes (default: all of them) and/or the other types",
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=list(VARIANTS),
        default=list(VARIANTS),
        help="variants to measure (default all)",
    )
    args = parser.parse_args(argv)
    if args.samples < 1 or args.min_sample <= 0:
        parser.error("--samples must be >= 1 and --min-sample > 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the tables and optionally write the JSON file."""
    args = _parse_args(argv)
    variants = [v for v in VARIANTS if v in args.variants]
    started = time.perf_counter()
    report: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": environment(),
        "settings": {"samples": args.samples, "min_sample_s": args.min_sample, "variants": variants},
        "loadavg_start": list(os.getloadavg()),
        "sizes": {},
    }
    print(
        f"{args.samples} interleaved samples of >= {args.min_sample} s per variant; medians; "
        "'time x' = CPU time per message relative to the baseline (lower is faster)",
        flush=True,
    )
    for size in args.sizes:
        messages = corpus(size)
        by_variant, record = compare_corpus(messages, variants, args.samples, args.min_sample)
        print("\n" + "\n".join(format_table(messages, by_variant)), flush=True)
        report["sizes"][size] = record
    elapsed = time.perf_counter() - started
    report["loadavg_end"] = list(os.getloadavg())
    report["elapsed_s"] = elapsed
    print(
        f"\n{elapsed:.0f} s; load average {report['loadavg_start'][0]:.2f} -> {report['loadavg_end'][0]:.2f} "
        f"on {os.cpu_count()} CPUs",
        flush=True,
    )
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"raw results written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
