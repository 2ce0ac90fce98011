"""In-process measurements for the load harness: every pytest-benchmark case, interleaved, on CPU time.

    .venv/bin/python -m benchmarks.micro [--quick] [--json FILE]

The same rounds as the pytest-benchmark suites, measured the way ``benchmarks/compare.py`` does it
(warm-up and check, interleaved rotating samples, CPU time per unit, medians):

``sizes``
    the JW323 size series (2KB, 3KB, 100KB, 5MB, 25MB) x raw lxml, raw lxml with a reused parser, our
    validation core, the full pipeline and xmlschema (up to 5MB), with the target checks;
``types``
    the same for JW303D (2.x) and JW321 (fixed width) at 3KB and 100KB;
``stages``
    the pipeline stage by stage on 3KB and 100KB (:mod:`benchmarks.stages`);
``billing``
    billing serialisation per record on 3KB;
``minimise``
    the minimisation variants of ``benchmarks/test_minimise.py`` on 3KB.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.compare import compare_corpus, format_table, interleave, summarise
from benchmarks.messages import SIZES, TYPES, VARIANTS, corpus
from benchmarks.stages import Timed, billing_rounds, stage_rounds

__all__ = ["main", "measure_all"]


def _named(
    rounds: Mapping[str, Timed], samples: int, min_seconds: float, unit_bytes: float
) -> dict[str, Any]:
    measured = interleave(rounds, samples, min_seconds)
    out: dict[str, Any] = {}
    for name, values in measured.items():
        summary = summarise(name, values, unit_bytes)
        out[name] = {
            "summary": asdict(summary),
            "samples_cpu_us": [round(s.cpu_us_per_message, 3) for s in values],
        }
        print(f"  {name:<30} {summary.cpu_us_per_message:>10.1f} us CPU  spread {summary.cpu_spread:.1%}")
    return out


def measure_all(samples: int, min_seconds: float) -> dict[str, Any]:
    """Every section; JSON-ready."""
    result: dict[str, Any] = {"settings": {"samples": samples, "min_sample_s": min_seconds}}
    for section, names in (("sizes", list(SIZES)), ("types", list(TYPES))):
        result[section] = {}
        for name in names:
            messages = corpus(name)
            started = time.perf_counter()
            by_variant, record = compare_corpus(messages, VARIANTS, samples, min_seconds)
            record["elapsed_s"] = round(time.perf_counter() - started, 2)
            result[section][name] = record
            print("\n" + "\n".join(format_table(messages, by_variant)), flush=True)
    result["stages"] = {}
    for name in ("3KB", "100KB"):
        print(f"\npipeline stages, {name} (per message)")
        result["stages"][name] = _named(
            stage_rounds(corpus(name)), samples, min_seconds, corpus(name).mean_bytes
        )
    print("\nbilling serialisation, 3KB (per record)")
    result["billing"] = {"3KB": _named(billing_rounds(corpus("3KB")), samples, min_seconds, 0.0)}
    from benchmarks.test_minimise import make_rounds  # noqa: PLC0415 - imports pytest

    print("\nminimisation, 3KB (per message)")
    minimise = {name: (run, count, count) for name, (run, count) in make_rounds().items()}
    result["minimise"] = {"3KB": _named(minimise, samples, min_seconds, corpus("3KB").mean_bytes)}
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.micro", description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=7, help="interleaved samples per variant (default 7)")
    parser.add_argument(
        "--min-sample", type=float, default=0.2, help="minimum sample length, s (default 0.2)"
    )
    parser.add_argument("--quick", action="store_true", help="3 samples of >= 0.1 s")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON to FILE")
    args = parser.parse_args(argv)
    if args.quick:
        args.samples, args.min_sample = min(args.samples, 3), min(args.min_sample, 0.1)
    if args.samples < 1 or args.min_sample <= 0:
        parser.error("--samples must be >= 1 and --min-sample > 0")
    started = time.perf_counter()
    result = measure_all(args.samples, args.min_sample)
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    print(f"\n{result['elapsed_s']} s", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
