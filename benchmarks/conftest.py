"""Fixtures for the pytest-benchmark suites, and a per-message summary printed after the run.

pytest-benchmark reports the time of one *round* (every message of a corpus handled once). The summary
added here divides by the corpus size and sets each variant against the two lxml baselines and
xmlschema, so the figures read like those of ``benchmarks/compare.py``. They are wall-clock medians of
benchmarks run one after another (not interleaved): use ``compare.py`` / ``python -m benchmarks.load``
for the ratios that count.

Corpora of 1 MB messages and more are measured with ``benchmark.pedantic`` and :data:`BIG_ROUNDS`
rounds of one call (a round takes 0.1-3 s there; pytest-benchmark's calibration would repeat it far
more often than needed), which keeps the whole suite to a few minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.messages import VARIANTS, Corpus, Round, corpus, make_round

#: Rounds of the pedantic benchmarks of corpora with messages of 1 MB and more.
BIG_ROUNDS = 3
BIG_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class Measured:
    """The median round time of one benchmark, per message."""

    size: str
    variant: str
    messages: int
    median_round_s: float

    @property
    def us_per_message(self) -> float:
        return self.median_round_s / self.messages * 1e6


_RESULTS = pytest.StashKey[list[Measured]]()

#: ``run_variant(benchmark, size, variant)``: benchmark one variant over one corpus, check, record.
RunVariant = Callable[[BenchmarkFixture, str, str], None]


@pytest.fixture(scope="session")
def rounds() -> Callable[[str, str], tuple[Corpus, Round]]:
    """Builds (once per session) the corpus and timed round of a (size, variant) pair."""
    built: dict[tuple[str, str], tuple[Corpus, Round]] = {}

    def get(size: str, variant: str) -> tuple[Corpus, Round]:
        key = (size, variant)
        if key not in built:
            messages = corpus(size)
            built[key] = (messages, make_round(variant, messages))
        return built[key]

    return get


@pytest.fixture
def run_variant(
    request: pytest.FixtureRequest, rounds: Callable[[str, str], tuple[Corpus, Round]]
) -> RunVariant:
    """Benchmark one variant: group per size, extra info for the JSON output, correctness check."""

    def run(benchmark: BenchmarkFixture, size: str, variant: str) -> None:
        messages, round_ = rounds(size, variant)
        assert round_() == messages.count, f"{variant}: not every {size} message is valid"  # warm-up + check
        title = size if size.startswith(messages.message) else f"{messages.message} {size}"
        benchmark.group = f"{title} ({messages.count} messages/round)"
        benchmark.extra_info.update(
            {
                "size": size,
                "variant": variant,
                "messages_per_round": messages.count,
                "mean_message_bytes": round(messages.mean_bytes),
            }
        )
        if messages.mean_bytes >= BIG_BYTES:
            valid = benchmark.pedantic(round_, rounds=BIG_ROUNDS, iterations=1)  # type: ignore[no-untyped-call]
        else:
            valid = benchmark(round_)
        assert valid == messages.count
        stats = benchmark.stats
        if stats is not None:  # None when benchmarks are disabled (--benchmark-disable)
            median = float(stats.stats.median)
            benchmark.extra_info["us_per_message_median"] = median / messages.count * 1e6
            request.config.stash.setdefault(_RESULTS, []).append(
                Measured(size, variant, messages.count, median)
            )

    return run


def _ratio(value: float | None, reference: float | None) -> str:
    if value is None or reference is None:
        return "-"
    return f"x{value / reference:.2f}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Print per-message medians and time ratios to both lxml baselines, one block per size."""
    results = config.stash.get(_RESULTS, [])
    if not results:
        return
    write = terminalreporter.write_line
    terminalreporter.section("per message (wall-clock medians; sequential - see compare.py for ratios)")
    write(
        f"{'size':<12} {'variant':<24} {'us/msg':>10} {'msgs/s':>10} {'time x raw':>11} {'time x reused':>14}"
    )
    for size in dict.fromkeys(r.size for r in results):
        by_variant = {r.variant: r.us_per_message for r in results if r.size == size}
        raw = by_variant.get("raw_lxml")
        reused = by_variant.get("raw_lxml_reused_parser")
        for variant in VARIANTS:
            us = by_variant.get(variant)
            if us is None:
                continue
            write(
                f"{size:<12} {variant:<24} {us:>10.1f} {1e6 / us:>10,.0f} "
                f"{_ratio(us, raw):>11} {_ratio(us, reused):>14}"
            )
        ours = by_variant.get("ours")
        pipeline = by_variant.get("pipeline")
        if ours is not None and raw is not None:
            write(f"{size:<7} ours throughput = {raw / ours:.0%} of raw_lxml (target >= 80 %)")
        if ours is not None and "xmlschema" in by_variant:
            write(f"{size:<7} xmlschema / ours = x{by_variant['xmlschema'] / ours:.1f} (target >= x20)")
        if pipeline is not None and raw is not None:
            write(f"{size:<7} pipeline throughput = {raw / pipeline:.0%} of raw_lxml (target >= 60 %)")
