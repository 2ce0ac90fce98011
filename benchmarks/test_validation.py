"""pytest-benchmark suite: our validation core against raw lxml and xmlschema on JW323 messages.

Run with ``.venv/bin/pytest benchmarks -p no:randomly --benchmark-only``. One benchmark group per message
size (2KB, 3KB, 100KB); in each group the four variants of :mod:`benchmarks.messages` validate the same
corpus of distinct valid messages:

- ``raw_lxml``: ``etree.fromstring(data)`` (default parser) + ``XMLSchema.validate(root)``, the baseline;
- ``raw_lxml_reused_parser``: the same with one reused ``etree.XMLParser()``, a stronger baseline;
- ``ours``: ``Validator().validate(data, "bench", today=...)`` (transport, hardened parse, XSD, rules);
- ``xmlschema``: hardened lxml parse + ``xmlschema.XMLSchema(JW323.xsd).is_valid(root)`` (schema untimed).

One round = every message of the corpus validated once, so the time per message is the round time
divided by the corpus size (the summary at the end of the run prints it). The cases run size by size,
so the variants of one group are measured close together in time.
"""

from __future__ import annotations

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.conftest import RunVariant
from benchmarks.messages import SIZES, VARIANTS

CASES = [pytest.param(size, variant, id=f"{size}-{variant}") for size in SIZES for variant in VARIANTS]


@pytest.mark.parametrize(("size", "variant"), CASES)
def test_validate(benchmark: BenchmarkFixture, run_variant: RunVariant, size: str, variant: str) -> None:
    """Validate the whole ``size`` corpus once per round with ``variant``; every message must be valid."""
    run_variant(benchmark, size, variant)
