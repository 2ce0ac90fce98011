"""Shared message corpora and the timed variants measured by every benchmark.

The pytest-benchmark suites, the interleaved comparison (``benchmarks/compare.py``) and the load harness
(``benchmarks/load.py``) take their messages and their timed callables from here, so they all measure
exactly the same work.

Corpora: sets of distinct, valid messages generated from different seeds (so no cache sees the same
document twice in a row). The JW323 size series (:data:`SIZES`):

======  ==============================================  ===========  ===========
name    shape                                           messages     ~bytes
======  ==============================================  ===========  ===========
2KB     1 client, 1 line (the smallest valid message)   50           2,300
3KB     1 client, 2 lines                               50           3,100
100KB   56 clients, 2 lines each                        10           100,000
5MB     2,800 clients, 2 lines each                     1            5,000,000
25MB    14,000 clients, 2 lines each                    1            24,800,000
======  ==============================================  ===========  ===========

(25MB stays under the gateway's default limit of 25 MiB = 26,214,400 bytes.) The other message types
(:data:`TYPES`): ``JW303D`` (2.x XML, ``builders_2x``) and ``JW321`` (fixed-width EI, ``builders_ei``) at
about 3 KB and 100 KB.

A *round* (see :func:`make_round`) handles every message of a corpus once and returns how many were
valid; per-message time is the round time divided by the corpus size.

Variants (:data:`VARIANTS`):

``raw_lxml``
    ``etree.fromstring(data)`` with lxml's default parser, then ``XMLSchema.validate(root)`` with the
    type's compiled schema: **the baseline**. For JW321, which is not XML, ``data`` is the canonical XML
    of the file (the tree our parser builds, serialised beforehand) and the schema is ``JW321.xsd``: the
    least an XSD-validating reader of the same content has to do.
``raw_lxml_reused_parser``
    The same with one ``etree.XMLParser()`` reused for every message: a stronger baseline.
``ours``
    ``Validator().validate(data, "bench", today=...)``: transport checks, hardened parse (or the
    fixed-width reader), XSD and the business rules: the full validation core.
``pipeline``
    ``gateway.pipeline.process`` with the production minimiser (``default_pipeline_step()``): validate,
    plan and build the answer, minimise (billing records, filtered message, audit), then every billing
    record as the JSON line the file outbox writes. Everything but the I/O.
``xmlschema``
    Hardened lxml parse of the baseline's ``data``, then ``xmlschema.XMLSchema(<xsd>).is_valid(root)``.
    Raw bytes are never handed to xmlschema (security.md section 1, row 7); its schema is built once,
    untimed. Measured only up to :data:`XMLSCHEMA_MAX_BYTES` (see :func:`variants_for`).
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, Final, Literal

from lxml import etree

from gateway.outbox.files import message_key_text
from gateway.pipeline import Environment, process
from gateway.registry import MessageSpec, default_registry
from gateway.testing.builders import random_declaration, render
from gateway.validation import Validator

__all__ = [
    "ALL_CORPORA",
    "BENCH_HMAC_KEY",
    "SIZES",
    "SOURCE",
    "TODAY",
    "TYPES",
    "VARIANTS",
    "XMLSCHEMA_MAX_BYTES",
    "Corpus",
    "CorpusSpec",
    "MessageType",
    "Round",
    "build_corpus",
    "corpus",
    "hardened_parser",
    "jw323_schema",
    "jw323_spec",
    "make_round",
    "pipeline_environment",
    "production_minimiser",
    "spec_of",
    "variants_for",
    "xmlschema_schema",
]

#: The fixed "today" of the clock rules, matching the builders' default (messages are dated before it).
TODAY: Final = date(2026, 1, 15)
#: The ``source`` label passed to the validator.
SOURCE: Final = "bench"
#: The HMAC key the benchmarks give the production minimiser (pseudonymisation needs one).
BENCH_HMAC_KEY: Final = "benchmark-hmac-key-0123456789"

#: The variants, in the order tables list them. ``raw_lxml`` is the reference for ratios.
VARIANTS: Final = ("raw_lxml", "raw_lxml_reused_parser", "ours", "pipeline", "xmlschema")

#: xmlschema runs at ~2.5 MB/s: a 5 MB message takes ~2 s, a 25 MB one ~10 s (and its ratio to lxml does
#: not depend on the size), so it is measured up to and including the 5MB corpus only.
XMLSCHEMA_MAX_BYTES: Final = 6_000_000

MessageType = Literal["JW323", "JW303D", "JW321"]

#: A timed unit of work: handles every message of a corpus once, returns the number found valid.
Round = Callable[[], int]


@dataclass(frozen=True, slots=True)
class CorpusSpec:
    """How to generate one corpus: message type and shape, number of messages and the first seed."""

    name: str
    clients: int
    lines_per_client: int
    count: int
    first_seed: int
    message: MessageType = "JW323"
    approx_bytes: int = 0  # the rough size of one message (decides whether xmlschema is measured)


#: The JW323 message sizes, smallest first.
SIZES: Final[dict[str, CorpusSpec]] = {
    spec.name: spec
    for spec in (
        CorpusSpec("2KB", 1, 1, count=50, first_seed=20_000, approx_bytes=2_300),
        CorpusSpec("3KB", 1, 2, count=50, first_seed=30_000, approx_bytes=3_100),
        CorpusSpec("100KB", 56, 2, count=10, first_seed=100_000, approx_bytes=100_000),
        CorpusSpec("5MB", 2_800, 2, count=1, first_seed=5_000_000, approx_bytes=5_000_000),
        CorpusSpec("25MB", 14_000, 2, count=1, first_seed=25_000_000, approx_bytes=24_800_000),
    )
}

#: The other message types (2.x XML and JW321 fixed width) at the two small sizes.
TYPES: Final[dict[str, CorpusSpec]] = {
    spec.name: spec
    for spec in (
        CorpusSpec("JW303D 3KB", 1, 2, count=50, first_seed=303_000, message="JW303D", approx_bytes=3_300),
        CorpusSpec("JW303D 100KB", 49, 2, 10, first_seed=303_100, message="JW303D", approx_bytes=100_000),
        CorpusSpec("JW321 3KB", 1, 4, count=50, first_seed=321_000, message="JW321", approx_bytes=3_300),
        CorpusSpec("JW321 100KB", 40, 4, 10, first_seed=321_100, message="JW321", approx_bytes=100_000),
    )
}

ALL_CORPORA: Final[dict[str, CorpusSpec]] = {**SIZES, **TYPES}


@dataclass(frozen=True, slots=True)
class Corpus:
    """A set of distinct messages of one type and shape.

    ``xml`` holds what the raw-lxml and xmlschema baselines parse: the messages themselves, or for JW321
    the canonical XML of each file.
    """

    spec: CorpusSpec
    messages: tuple[bytes, ...]
    xml: tuple[bytes, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def message(self) -> MessageType:
        return self.spec.message

    @property
    def count(self) -> int:
        return len(self.messages)

    @property
    def total_bytes(self) -> int:
        return sum(len(m) for m in self.messages)

    @property
    def mean_bytes(self) -> float:
        return self.total_bytes / self.count


def _render_one(spec: CorpusSpec, seed: int) -> bytes:
    rng = random.Random(seed)
    if spec.message == "JW323":
        return render(
            random_declaration(rng, clients=spec.clients, lines_per_client=spec.lines_per_client, today=TODAY)
        )
    if spec.message == "JW303D":
        from gateway.testing.builders_2x import random_303, render_303  # noqa: PLC0415

        return render_303(random_303(rng, clients=spec.clients, lines_per_client=spec.lines_per_client))
    from gateway.testing.builders_ei import random_ei_declaration, render_ei  # noqa: PLC0415

    return render_ei(random_ei_declaration(rng, clients=spec.clients, lines_per_client=spec.lines_per_client))


def _canonical_xml(data: bytes) -> bytes:
    """The canonical XML tree our fixed-width reader builds for a JW321 file, serialised."""
    from gateway.fixedwidth.layout import load_layout  # noqa: PLC0415
    from gateway.fixedwidth.parser import parse_records  # noqa: PLC0415

    parsed = parse_records(data.decode("ascii"), load_layout("JW321"))
    return etree.tostring(parsed.root)


def build_corpus(spec: CorpusSpec) -> Corpus:
    """Generate the corpus of ``spec`` (deterministic: seed ``first_seed + i`` for message ``i``)."""
    messages = tuple(_render_one(spec, spec.first_seed + i) for i in range(spec.count))
    if len(set(messages)) != len(messages):
        raise RuntimeError(f"corpus {spec.name}: generated messages are not distinct")
    xml = tuple(_canonical_xml(m) for m in messages) if spec.message == "JW321" else messages
    return Corpus(spec, messages, xml)


@cache
def corpus(name: str) -> Corpus:
    """The corpus called ``name`` (one of :data:`ALL_CORPORA`), generated once per process."""
    return build_corpus(ALL_CORPORA[name])


def spec_of(message: MessageType) -> MessageSpec:
    """Our own message spec (its ``schema_path`` is the XSD the gateway ships)."""
    spec = default_registry().spec_named(message)
    if spec is None:
        raise RuntimeError(f"the default registry has no {message}")
    return spec


def jw323_spec() -> MessageSpec:
    """Our own JW323 message spec."""
    return spec_of("JW323")


def jw323_schema() -> etree.XMLSchema:
    """The compiled lxml schema of our JW323.xsd (the same object the gateway validates with)."""
    return default_registry().schema(jw323_spec())


@cache
def xmlschema_schema(message: MessageType = "JW323") -> Any:
    """``xmlschema.XMLSchema`` of the type's XSD, built once per process (slow: a few tenths of a second)."""
    import xmlschema  # noqa: PLC0415  (slow import; only the xmlschema variant needs it)

    return xmlschema.XMLSchema(str(spec_of(message).schema_path))


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


@contextmanager
def _bench_settings() -> Iterator[None]:
    """Point ``Settings.from_env`` at a throw-away data directory and the benchmark key, then restore.

    So building the production minimiser never creates a key file in the user's data directory and never
    opens a real opt-out register.
    """
    names = ("JWMO_DATA_DIR", "JWMO_HMAC_KEY", "JWMO_HMAC_KEY_FILE")
    saved = {name: os.environ.get(name) for name in names}
    with tempfile.TemporaryDirectory(prefix="jwmo-bench-") as tmp:
        os.environ["JWMO_DATA_DIR"] = tmp
        os.environ["JWMO_HMAC_KEY"] = BENCH_HMAC_KEY
        os.environ.pop("JWMO_HMAC_KEY_FILE", None)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def production_minimiser() -> Any:
    """``gateway.minimise.default_pipeline_step()`` (the production factory) with the benchmark settings."""
    from gateway.minimise import default_pipeline_step  # noqa: PLC0415

    with _bench_settings():
        return default_pipeline_step()


@cache
def pipeline_environment() -> Environment:
    """The pipeline's environment as a production worker builds it: validator, today, minimiser."""
    return Environment(Validator(), TODAY, production_minimiser())


def billing_json(outcome: Any) -> list[str]:
    """The billing lines of an outcome exactly as the file outbox writes them (``billing.jsonl``)."""
    key = message_key_text(outcome.dedup_key)
    dumps = json.dumps
    return [dumps({"message_key": key, **record}, ensure_ascii=False) for record in outcome.minimised.billing]


def _raw_lxml(c: Corpus) -> Round:
    validate = default_registry().schema(spec_of(c.message)).validate
    fromstring = etree.fromstring
    messages = c.xml

    def run() -> int:
        ok = 0
        for data in messages:
            ok += validate(fromstring(data))
        return ok

    return run


def _raw_lxml_reused_parser(c: Corpus) -> Round:
    validate = default_registry().schema(spec_of(c.message)).validate
    fromstring = etree.fromstring
    parser = etree.XMLParser()
    messages = c.xml

    def run() -> int:
        ok = 0
        for data in messages:
            ok += validate(fromstring(data, parser))
        return ok

    return run


def _ours(c: Corpus) -> Round:
    check = Validator().validate
    today = TODAY
    messages = c.messages

    def run() -> int:
        ok = 0
        for data in messages:
            ok += check(data, SOURCE, today=today).valid
        return ok

    return run


def _pipeline(c: Corpus) -> Round:
    env = pipeline_environment()
    messages = c.messages

    def run() -> int:
        ok = 0
        for data in messages:
            outcome = process(data, SOURCE, env)
            billing_json(outcome)
            ok += outcome.verdict.valid
        return ok

    return run


def _xmlschema(c: Corpus) -> Round:
    is_valid = xmlschema_schema(c.message).is_valid
    fromstring = etree.fromstring
    parser = hardened_parser()
    messages = c.xml

    def run() -> int:
        ok = 0
        for data in messages:
            ok += bool(is_valid(fromstring(data, parser)))
        return ok

    return run


_FACTORIES: Final[dict[str, Callable[[Corpus], Round]]] = {
    "raw_lxml": _raw_lxml,
    "raw_lxml_reused_parser": _raw_lxml_reused_parser,
    "ours": _ours,
    "pipeline": _pipeline,
    "xmlschema": _xmlschema,
}


def variants_for(spec: CorpusSpec, variants: tuple[str, ...] | list[str] = VARIANTS) -> list[str]:
    """``variants`` that are measured on ``spec``: xmlschema only up to :data:`XMLSCHEMA_MAX_BYTES`."""
    big = spec.approx_bytes > XMLSCHEMA_MAX_BYTES
    return [v for v in variants if not (v == "xmlschema" and big)]


def make_round(variant: str, messages: Corpus) -> Round:
    """The timed callable of ``variant`` over ``messages``; everything it needs is built beforehand.

    Building may be slow (the xmlschema schema); calling the result is the measured part. The caller
    should check that a round returns ``messages.count``: every corpus message is valid.
    """
    try:
        factory = _FACTORIES[variant]
    except KeyError:
        raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}") from None
    return factory(messages)
