"""Shared message corpus and the validation variants measured by the benchmarks.

Both the pytest-benchmark suite (``benchmarks/test_validation.py``) and the interleaved comparison script
(``benchmarks/compare.py``) take their messages and their timed callables from here, so the two measure
exactly the same work.

Corpus: sets of distinct, valid JW323 messages generated with :func:`random_declaration` from different
seeds (so no cache sees the same document twice in a row). Sizes:

======  ==============================================  ===========  =======
name    shape                                           messages     ~bytes
======  ==============================================  ===========  =======
2KB     1 client, 1 line (the smallest valid message)   50           2,270
3KB     1 client, 2 lines                               50           3,100
100KB   56 clients, 2 lines each                        10           100,000
======  ==============================================  ===========  =======

A *round* (see :func:`make_round`) validates every message of a corpus once and returns how many were
valid; per-message time is the round time divided by the corpus size.

Variants:

``raw_lxml``
    ``etree.fromstring(data)`` with lxml's default parser, then ``XMLSchema.validate(root)``: the baseline.
``raw_lxml_reused_parser``
    The same with one ``etree.XMLParser()`` reused for every message: a stronger baseline.
``ours``
    ``Validator().validate(data, "bench", today=...)``: transport checks, hardened parse, XSD and the
    business rules (the full validation core).
``xmlschema``
    Hardened lxml parse, then ``xmlschema.XMLSchema(<JW323.xsd>).is_valid(root)``. Raw bytes are never
    handed to xmlschema (security.md section 1, row 7); the xmlschema schema is built once, untimed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, Final

from lxml import etree

from gateway.registry import MessageSpec, default_registry
from gateway.testing.builders import random_declaration, render
from gateway.validation import Validator

__all__ = [
    "SIZES",
    "SOURCE",
    "TODAY",
    "VARIANTS",
    "Corpus",
    "CorpusSpec",
    "Round",
    "build_corpus",
    "corpus",
    "hardened_parser",
    "jw323_schema",
    "jw323_spec",
    "make_round",
    "xmlschema_schema",
]

#: The fixed "today" of the clock rules, matching the builders' default (messages are dated before it).
TODAY: Final = date(2026, 1, 15)
#: The ``source`` label passed to the validator.
SOURCE: Final = "bench"

#: The variants, in the order tables list them. ``raw_lxml`` is the reference for ratios.
VARIANTS: Final = ("raw_lxml", "raw_lxml_reused_parser", "ours", "xmlschema")

#: A timed unit of work: validates every message of a corpus once, returns the number found valid.
Round = Callable[[], int]


@dataclass(frozen=True, slots=True)
class CorpusSpec:
    """How to generate one corpus: message shape, number of messages and the first seed."""

    name: str
    clients: int
    lines_per_client: int
    count: int
    first_seed: int


#: The message sizes, smallest first.
SIZES: Final[dict[str, CorpusSpec]] = {
    spec.name: spec
    for spec in (
        CorpusSpec("2KB", clients=1, lines_per_client=1, count=50, first_seed=20_000),
        CorpusSpec("3KB", clients=1, lines_per_client=2, count=50, first_seed=30_000),
        CorpusSpec("100KB", clients=56, lines_per_client=2, count=10, first_seed=100_000),
    )
}


@dataclass(frozen=True, slots=True)
class Corpus:
    """A set of distinct messages of one shape."""

    spec: CorpusSpec
    messages: tuple[bytes, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def count(self) -> int:
        return len(self.messages)

    @property
    def total_bytes(self) -> int:
        return sum(len(m) for m in self.messages)

    @property
    def mean_bytes(self) -> float:
        return self.total_bytes / self.count


def build_corpus(spec: CorpusSpec) -> Corpus:
    """Generate the corpus of ``spec`` (deterministic: seed ``first_seed + i`` for message ``i``)."""
    messages = tuple(
        render(
            random_declaration(
                random.Random(spec.first_seed + i),
                clients=spec.clients,
                lines_per_client=spec.lines_per_client,
                today=TODAY,
            )
        )
        for i in range(spec.count)
    )
    if len(set(messages)) != len(messages):
        raise RuntimeError(f"corpus {spec.name}: generated messages are not distinct")
    return Corpus(spec, messages)


@cache
def corpus(name: str) -> Corpus:
    """The corpus called ``name`` (one of :data:`SIZES`), generated once per process."""
    return build_corpus(SIZES[name])


def jw323_spec() -> MessageSpec:
    """Our own JW323 message spec (its ``schema_path`` is the XSD the gateway ships)."""
    spec = default_registry().spec_named("JW323")
    if spec is None:
        raise RuntimeError("the default registry has no JW323")
    return spec


def jw323_schema() -> etree.XMLSchema:
    """The compiled lxml schema of our JW323.xsd (the same object the gateway validates with)."""
    return default_registry().schema(jw323_spec())


@cache
def xmlschema_schema() -> Any:
    """``xmlschema.XMLSchema`` of our JW323.xsd, built once per process (slow: a few tenths of a second)."""
    import xmlschema  # noqa: PLC0415  (slow import; only the xmlschema variant needs it)

    return xmlschema.XMLSchema(str(jw323_spec().schema_path))


def hardened_parser() -> etree.XMLParser:
    """A hardened lxml parser (security.md): no DTD, no entities, no network, comments and PIs dropped."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _raw_lxml(messages: tuple[bytes, ...]) -> Round:
    validate = jw323_schema().validate
    fromstring = etree.fromstring

    def run() -> int:
        ok = 0
        for data in messages:
            ok += validate(fromstring(data))
        return ok

    return run


def _raw_lxml_reused_parser(messages: tuple[bytes, ...]) -> Round:
    validate = jw323_schema().validate
    fromstring = etree.fromstring
    parser = etree.XMLParser()

    def run() -> int:
        ok = 0
        for data in messages:
            ok += validate(fromstring(data, parser))
        return ok

    return run


def _ours(messages: tuple[bytes, ...]) -> Round:
    check = Validator().validate
    today = TODAY

    def run() -> int:
        ok = 0
        for data in messages:
            ok += check(data, SOURCE, today=today).valid
        return ok

    return run


def _xmlschema(messages: tuple[bytes, ...]) -> Round:
    is_valid = xmlschema_schema().is_valid
    fromstring = etree.fromstring
    parser = hardened_parser()

    def run() -> int:
        ok = 0
        for data in messages:
            ok += bool(is_valid(fromstring(data, parser)))
        return ok

    return run


_FACTORIES: Final[dict[str, Callable[[tuple[bytes, ...]], Round]]] = {
    "raw_lxml": _raw_lxml,
    "raw_lxml_reused_parser": _raw_lxml_reused_parser,
    "ours": _ours,
    "xmlschema": _xmlschema,
}


def make_round(variant: str, messages: Corpus) -> Round:
    """The timed callable of ``variant`` over ``messages``; everything it needs is built beforehand.

    Building may be slow (the xmlschema schema); calling the result is the measured part. The caller
    should check that a round returns ``messages.count``: every corpus message is valid.
    """
    try:
        factory = _FACTORIES[variant]
    except KeyError:
        raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}") from None
    return factory(messages.messages)
