"""pytest-benchmark suite: our validation core and the full pipeline against raw lxml and xmlschema.

Run with ``.venv/bin/pytest benchmarks -p no:randomly --benchmark-only`` (``-k 3KB`` for one corpus). One
benchmark group per corpus of :mod:`benchmarks.messages`: the JW323 sizes 2KB, 3KB, 100KB, 5MB and 25MB,
and the other types (``JW303D`` 2.x XML, ``JW321`` fixed width) at 3KB and 100KB. In each group the
variants handle the same corpus of distinct valid messages:

- ``raw_lxml``: ``etree.fromstring(data)`` (default parser) + ``XMLSchema.validate(root)``, the baseline
  (for JW321: the canonical XML of the file, validated against ``JW321.xsd``);
- ``raw_lxml_reused_parser``: the same with one reused ``etree.XMLParser()``, a stronger baseline;
- ``ours``: ``Validator().validate(data, "bench", today=...)`` (transport, hardened parse, XSD, rules);
- ``pipeline``: ``gateway.pipeline.process`` with the production minimiser + billing JSON lines;
- ``xmlschema``: hardened lxml parse + ``xmlschema.XMLSchema(<xsd>).is_valid(root)`` (schema untimed),
  measured up to the 5MB corpus only: one 25 MB message takes it ~10 s, and its ratio to lxml does not
  change with the size (``benchmarks.messages.XMLSCHEMA_MAX_BYTES``).

One round = every message of the corpus handled once, so the time per message is the round time divided
by the corpus size (the summary at the end of the run prints it). The cases run corpus by corpus, so the
variants of one group are measured close together in time.
"""

from __future__ import annotations

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.conftest import RunVariant
from benchmarks.messages import ALL_CORPORA, variants_for

CASES = [
    pytest.param(name, variant, id=f"{name.replace(' ', '-')}-{variant}")
    for name, spec in ALL_CORPORA.items()
    for variant in variants_for(spec)
]


@pytest.mark.parametrize(("size", "variant"), CASES)
def test_validate(benchmark: BenchmarkFixture, run_variant: RunVariant, size: str, variant: str) -> None:
    """Handle the whole corpus once per round with ``variant``; every message must be valid."""
    run_variant(benchmark, size, variant)
