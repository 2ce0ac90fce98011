"""pytest-benchmark: JW321 fixed-width files through the whole validation core, beside JW323 XML.

Run with ``.venv/bin/pytest benchmarks/test_fixedwidth.py -p no:randomly --benchmark-only``. One group per
size; in each, ``Validator().validate`` runs over a corpus of distinct valid messages of each type:

======  =====================================================  ===================================
size    JW321 (fixed width, 310-character records)              JW323 (XML, :mod:`benchmarks.messages`)
======  =====================================================  ===================================
3KB     1 client, 4 lines (+ comments): ~10 records, 50 files   1 client, 2 lines, 50 messages
100KB   40 clients x 4 lines (+ comments): ~320 records, 10     56 clients x 2 lines, 10 messages
======  =====================================================  ===================================

A JW321 takes the path bytes -> transport scan -> canonical tree (one element per field) -> XSD of the tree
-> records -> rules; a JW323 the hardened parse -> XSD -> records -> rules. The round time divided by the
corpus size is the time per message (``extra_info["us_per_message_median"]``).
"""

from __future__ import annotations

import random
from functools import cache

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.messages import SOURCE, TODAY, corpus
from gateway.testing.builders_ei import random_ei_declaration, render_ei
from gateway.validation import Validator

#: JW321 corpus shape per size: (clients, lines per client, files, first seed).
JW321_SIZES = {"3KB": (1, 4, 50, 321_000), "100KB": (40, 4, 10, 321_100)}
CASES = [
    pytest.param(size, message, id=f"{size}-{message}")
    for size in JW321_SIZES
    for message in ("JW321", "JW323")
]


@cache
def messages(size: str, message: str) -> tuple[bytes, ...]:
    """Distinct valid messages of one type and size, generated once per process."""
    if message == "JW323":
        return corpus(size).messages
    clients, lines, count, seed = JW321_SIZES[size]
    files = tuple(
        render_ei(random_ei_declaration(random.Random(seed + i), clients=clients, lines_per_client=lines))
        for i in range(count)
    )
    assert len(set(files)) == count
    return files


@pytest.mark.parametrize(("size", "message"), CASES)
def test_validate(benchmark: BenchmarkFixture, size: str, message: str) -> None:
    """Validate the whole corpus once per round; every message must be valid (checked before and after)."""
    files = messages(size, message)
    validator = Validator()
    validate = validator.validate

    def round_() -> int:
        return sum(validate(data, SOURCE, today=TODAY).valid for data in files)

    assert round_() == len(files)  # warm-up (schemas compiled, definitions loaded) and correctness
    benchmark.group = f"{size}: JW321 (EI) vs JW323 (XML)"
    benchmark.extra_info.update(
        {
            "message": message,
            "size": size,
            "messages_per_round": len(files),
            "mean_bytes": sum(map(len, files)) // len(files),
        }
    )
    assert benchmark(round_) == len(files)
    stats = benchmark.stats
    if stats is not None:  # None with --benchmark-disable
        benchmark.extra_info["us_per_message_median"] = float(stats.stats.median) / len(files) * 1e6
