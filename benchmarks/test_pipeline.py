"""pytest-benchmark: the pipeline stage by stage, and billing serialisation, beside raw lxml.

Run with ``.venv/bin/pytest benchmarks/test_pipeline.py -p no:randomly --benchmark-only``. Groups:

``pipeline stages <size>``
    the rounds of :func:`benchmarks.stages.stage_rounds` on the JW323 3KB and 100KB corpora: raw lxml
    (the baseline), ``validate``, ``+answer``, ``+minimise`` and the full ``pipeline`` (with billing JSON);
``billing serialisation <size>``
    :func:`benchmarks.stages.billing_rounds`: every billing record of the corpus as JSON text, three
    ways (``record_text``, the outbox's ``json.dumps``, plain ``json.dumps``), and raw lxml for scale.

``extra_info["us_per_unit_median"]`` is the median round time per message (stages) or per record
(billing). For interleaved CPU-time figures use ``python -m benchmarks.load``.
"""

from __future__ import annotations

from functools import cache

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.messages import corpus
from benchmarks.stages import BILLING_VARIANTS, STAGE_VARIANTS, Timed, billing_rounds, stage_rounds

SIZES = ("3KB", "100KB")


@cache
def _stages(size: str) -> dict[str, Timed]:
    return stage_rounds(corpus(size))


@cache
def _billing(size: str) -> dict[str, Timed]:
    return billing_rounds(corpus(size))


def _run(benchmark: BenchmarkFixture, group: str, name: str, timed: Timed) -> None:
    round_, expected, units = timed
    assert round_() == expected  # warm-up and correctness check
    benchmark.group = group
    benchmark.extra_info.update({"variant": name, "units_per_round": units})
    assert benchmark(round_) == expected
    stats = benchmark.stats
    if stats is not None:  # None with --benchmark-disable
        benchmark.extra_info["us_per_unit_median"] = float(stats.stats.median) / units * 1e6


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("stage", STAGE_VARIANTS)
def test_stage(benchmark: BenchmarkFixture, size: str, stage: str) -> None:
    """One stage of the pipeline over the whole corpus; every message valid."""
    _run(benchmark, f"pipeline stages {size}", stage, _stages(size)[stage])


@pytest.mark.parametrize("variant", BILLING_VARIANTS)
def test_billing(benchmark: BenchmarkFixture, variant: str) -> None:
    """Every billing record of the 3KB corpus serialised once per round."""
    _run(benchmark, "billing serialisation 3KB (per record)", variant, _billing("3KB")[variant])
