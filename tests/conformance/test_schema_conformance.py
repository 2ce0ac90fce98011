"""Differential conformance test: our 3.2 schemas against the official iStandaarden XSDs.

The official XSDs (under ``../shared/reference`` or ``$JWMO_REFERENCE_DIR``) are a test oracle only. For
every valid message of the corpus and every named mutation of it, our schema and the official one must
give the same verdict. The mutation catalogue lives in :mod:`.mutations`, the corpus in :mod:`.corpus`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from lxml import etree

from .corpus import KINDS, Sample, valid_corpus
from .mutations import MUTATIONS, Mutation, parse

PROJECT_ROOT = Path(__file__).resolve().parents[2]
OUR_SCHEMAS = {
    "JW323": PROJECT_ROOT / "schemas" / "ijw" / "3.2" / "JW323.xsd",
    "JW325": PROJECT_ROOT / "schemas" / "ijw" / "3.2" / "JW325.xsd",
    "WMO323": PROJECT_ROOT / "schemas" / "iwmo" / "3.2" / "WMO323.xsd",
    "WMO325": PROJECT_ROOT / "schemas" / "iwmo" / "3.2" / "WMO325.xsd",
}
OFFICIAL_SCHEMAS = {
    "JW323": Path("xsd") / "ijw-3.2" / "JW323.xsd",
    "JW325": Path("xsd") / "ijw-3.2" / "JW325.xsd",
    "WMO323": Path("xsd") / "iwmo-3.2" / "WMO323.xsd",
}
OFFICIAL_EXAMPLES = {"JW323.xml": "JW323", "JW325.xml": "JW325", "WMO323.xml": "WMO323"}
XS = "{http://www.w3.org/2001/XMLSchema}"

#: Mutations that are re-checked with xmlschema (a second, independent XSD 1.0 implementation).
XMLSCHEMA_MUTATIONS = (
    "remove-Afzender",
    "remove-XsltVersie",
    "afzender-7-digits",
    "identificatie-blank",
    "dagtekening-utc",
    "dagtekening-feb-30",
    "declaratienummer-dash",
    "productcategorie-other-family",
    "toewijzingnummer-plus-leading-zeros",
    "geleverdvolume-padded",
    "totaalbedrag-10e12",
    "retourcode-unknown",
    "duplicate-prestatie",
    "basis-child-in-message-ns",
    "cdata-value",
    "comment-in-complex-element",
)


@dataclass(frozen=True, slots=True)
class SchemaPair:
    ours: etree.XMLSchema
    oracle: etree.XMLSchema


def _reference_dir() -> Path:
    configured = os.environ.get("JWMO_REFERENCE_DIR")
    return Path(configured) if configured else PROJECT_ROOT.parent / "shared" / "reference"


@pytest.fixture(scope="module")
def reference() -> Path:
    """The directory with the official XSDs and examples; skip (or fail on CI) when absent."""
    ref = _reference_dir()
    if not (ref / "xsd").is_dir() or not (ref / "examples").is_dir():
        message = f"official reference files not found in {ref} (set JWMO_REFERENCE_DIR)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return ref


def derive_wmo325_oracle(reference: Path, target: Path) -> Path:
    """Write an oracle WMO325.xsd derived from the official JW325.xsd and return its path.

    There is no official WMO325.xsd (the source repository only says, in prose, that WMO325 is JW325 with
    the iWmo namespaces and BerichtCode 485). So the oracle is the official JW325.xsd with its namespaces,
    prefixes and BerichtCode pattern swapped for the iWmo ones, importing the official iWmo basisschema
    (which brings the iWmo ProductCategorie list). Every replacement must hit, so a changed source file
    fails loudly instead of yielding a meaningless oracle.
    """
    text = (reference / "xsd" / "ijw-3.2" / "JW325.xsd").read_text(encoding="utf-8")
    iwmo_basis = (reference / "xsd" / "iwmo-3.2" / "basisschema.xsd").resolve().as_uri()
    replacements = (
        (
            "http://www.istandaarden.nl/ijw/3_2/jw325/schema",
            "http://www.istandaarden.nl/iwmo/3_2/wmo325/schema",
        ),
        (
            "http://www.istandaarden.nl/ijw/3_2/basisschema/schema",
            "http://www.istandaarden.nl/iwmo/3_2/basisschema/schema",
        ),
        ("xmlns:jw325=", "xmlns:wmo325="),
        ("xmlns:ijw=", "xmlns:iwmo="),
        ('"jw325:', '"wmo325:'),
        ('"ijw:', '"iwmo:'),
        ("<ijw:", "<iwmo:"),
        ("</ijw:", "</iwmo:"),
        ('<xs:pattern value="491"/>', '<xs:pattern value="485"/>'),
        ('schemaLocation="basisschema.xsd"', f'schemaLocation="{iwmo_basis}"'),
    )
    for old, new in replacements:
        if old not in text:
            raise AssertionError(
                f"official JW325.xsd no longer contains {old!r}; update the WMO325 derivation"
            )
        text = text.replace(old, new)
    leftovers = [s for s in ("/ijw/", "jw325:", "ijw:", '"491"') if s in text]
    assert not leftovers, f"derived WMO325 oracle still mentions {leftovers}"
    path = target / "WMO325.xsd"
    path.write_text(text, encoding="utf-8")
    return path


def _load(path: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path)))


@pytest.fixture(scope="module")
def ours() -> dict[str, etree.XMLSchema]:
    """Our four message schemas, loaded with lxml."""
    return {kind: _load(path) for kind, path in OUR_SCHEMAS.items()}


@pytest.fixture(scope="module")
def pairs(
    reference: Path, ours: dict[str, etree.XMLSchema], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, SchemaPair]:
    """(ours, official oracle) per message type."""
    oracles = {kind: _load(reference / rel) for kind, rel in OFFICIAL_SCHEMAS.items()}
    oracles["WMO325"] = _load(derive_wmo325_oracle(reference, tmp_path_factory.mktemp("wmo325-oracle")))
    return {kind: SchemaPair(ours[kind], oracles[kind]) for kind in KINDS}


def _first_error(schema: etree.XMLSchema) -> str:
    """Type and location of the first validation error; never the offending value."""
    errors: list[Any] = list(cast("Iterable[Any]", schema.error_log))  # untyped in lxml-stubs
    if not errors:
        return "no error"
    return f"{errors[0].type_name} at {errors[0].path}"


def _verdict(ok: bool) -> str:
    return "valid" if ok else "invalid"


# --------------------------------------------------------------------------------------------------
# Our schema files


@pytest.mark.parametrize("kind", KINDS)
def test_our_schema_files_declare_origin_and_namespaces(kind: str) -> None:
    """Each of our message XSDs says it is not the official file, keeps the official target namespace,
    is elementFormDefault qualified, declares root Bericht and imports its sibling basisschema.xsd."""
    path = OUR_SCHEMAS[kind]
    text = path.read_text(encoding="utf-8")
    family = "ijw" if kind.startswith("JW") else "iwmo"
    head = text[: text.index("<xs:schema")]
    assert "jwmo-gateway" in head
    assert "NOT the official" in head
    assert "override" in head
    root = etree.parse(str(path)).getroot()
    assert root.get("targetNamespace") == f"http://www.istandaarden.nl/{family}/3_2/{kind.lower()}/schema"
    assert root.get("elementFormDefault") == "qualified"
    assert [e.get("name") for e in root.iterchildren(f"{XS}element")] == ["Bericht"]
    imports = list(root.iterchildren(f"{XS}import"))
    assert [(i.get("namespace"), i.get("schemaLocation")) for i in imports] == [
        (f"http://www.istandaarden.nl/{family}/3_2/basisschema/schema", "basisschema.xsd")
    ]
    assert root.find(f"{XS}annotation/{XS}appinfo") is not None
    basis = path.with_name("basisschema.xsd").read_text(encoding="utf-8")
    assert "NOT the official" in basis[: basis.index("<xs:schema")]


def _simple_types(path: Path) -> dict[str, tuple[str | None, list[tuple[str, str | None]]]]:
    """name -> (base, facets in order) for every named simple type of a schema document."""
    result: dict[str, tuple[str | None, list[tuple[str, str | None]]]] = {}
    for st in etree.parse(str(path)).getroot().iterchildren(f"{XS}simpleType"):
        restriction = st.find(f"{XS}restriction")
        assert restriction is not None
        facets = [
            (etree.QName(f).localname, f.get("value"))
            for f in restriction.iterchildren(etree.Element)
            if f.tag != f"{XS}annotation"
        ]
        result[str(st.get("name"))] = (restriction.get("base"), facets)
    return result


@pytest.mark.parametrize("family", ["ijw", "iwmo"])
def test_basisschema_simple_types_match_official_facets(family: str, reference: Path) -> None:
    """Every simple type of our basisschema has the same base and the same facets (incl. every enumeration
    value, e.g. all 59 retourcodes) as the type of that name in the official basisschema."""
    ours = _simple_types(PROJECT_ROOT / "schemas" / family / "3.2" / "basisschema.xsd")
    official = _simple_types(reference / "xsd" / f"{family}-3.2" / "basisschema.xsd")
    assert ours, "our basisschema declares no simple types"
    for name, definition in ours.items():
        assert name in official, f"{name} does not exist in the official basisschema"
        assert definition == official[name], f"{name} differs from the official definition"
    retourcodes = [v for f, v in ours["LDT_RetourCode"][1] if f == "enumeration"]
    assert len(retourcodes) == 59


# --------------------------------------------------------------------------------------------------
# Valid corpus and official examples


def _sample_id(sample: Sample) -> str:
    return f"{sample.kind}-{sample.label}"


@pytest.mark.parametrize("sample", valid_corpus(), ids=_sample_id)
def test_valid_corpus_is_valid_under_both(sample: Sample, pairs: dict[str, SchemaPair]) -> None:
    """Every generated message is valid under our schema and under the official one."""
    doc = parse(sample.data)
    pair = pairs[sample.kind]
    assert pair.oracle.validate(doc), f"official schema rejects {sample.label}: {_first_error(pair.oracle)}"
    assert pair.ours.validate(doc), f"our schema rejects {sample.label}: {_first_error(pair.ours)}"


def test_corpus_covers_every_type_and_both_styles() -> None:
    """The corpus has several messages per type, in prefixed and default-namespace form, CRLF and LF."""
    corpus = valid_corpus()
    for kind in KINDS:
        samples = [s for s in corpus if s.kind == kind]
        assert len(samples) >= 4
        assert any(parse(s.data).prefix is None for s in samples)
        assert any(parse(s.data).prefix is not None for s in samples)
        assert any(b"\r\n" in s.data for s in samples)
        assert any(b"\r\n" not in s.data for s in samples)


@pytest.mark.parametrize("name", sorted(OFFICIAL_EXAMPLES))
def test_official_examples_valid_under_both(name: str, reference: Path, pairs: dict[str, SchemaPair]) -> None:
    """The published example messages are valid under the official schema and under ours."""
    doc = parse((reference / "examples" / name).read_bytes())
    pair = pairs[OFFICIAL_EXAMPLES[name]]
    assert pair.oracle.validate(doc), f"official schema rejects {name}: {_first_error(pair.oracle)}"
    assert pair.ours.validate(doc), f"our schema rejects {name}: {_first_error(pair.ours)}"


# --------------------------------------------------------------------------------------------------
# Mutations


def test_catalogue_has_at_least_40_named_kinds() -> None:
    """The mutation catalogue is not trivially small and its names are unique and usable as test ids."""
    names = [m.name for m in MUTATIONS]
    assert len(names) >= 40
    assert len(set(names)) == len(names)
    assert all(n and " " not in n for n in names)
    assert sum(m.expect == "accept" for m in MUTATIONS) >= 10
    assert sum(m.expect == "reject" for m in MUTATIONS) >= 40


def _mutants(mutation: Mutation) -> Iterator[tuple[Sample, etree._Element]]:
    for sample in valid_corpus():
        mutated = mutation.apply(sample.data, sample.kind)
        if mutated is not None:
            yield sample, parse(mutated)


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_mutation_verdicts_agree(mutation: Mutation, pairs: dict[str, SchemaPair]) -> None:
    """For every message the mutation applies to, our schema and the official one agree on validity; a
    reject-kind mutation is rejected by the official schema for at least one message, and an accept-case
    is accepted by it for all of them (so the corpus is not vacuous)."""
    applicable = 0
    oracle_rejected: list[str] = []
    disagreements: list[str] = []
    for sample, doc in _mutants(mutation):
        applicable += 1
        pair = pairs[sample.kind]
        ours_ok = pair.ours.validate(doc)
        ours_error = _first_error(pair.ours)
        oracle_ok = pair.oracle.validate(doc)
        if not oracle_ok:
            oracle_rejected.append(f"{sample.kind}/{sample.label}")
        if ours_ok != oracle_ok:
            disagreements.append(
                f"{sample.kind}/{sample.label}: ours {_verdict(ours_ok)} ({ours_error}), "
                f"official {_verdict(oracle_ok)} ({_first_error(pair.oracle)})"
            )
    assert applicable, f"mutation {mutation.name!r} applies to no message of the corpus"
    assert not disagreements, f"mutation {mutation.name!r}: verdicts differ: " + "; ".join(disagreements)
    if mutation.expect == "reject":
        assert oracle_rejected, f"mutation {mutation.name!r} is accepted by the official schema everywhere"
    else:
        assert not oracle_rejected, (
            f"accept-case {mutation.name!r} is rejected by the official schema for {oracle_rejected}"
        )


# --------------------------------------------------------------------------------------------------
# Second implementation: xmlschema (XSD 1.0)


@pytest.fixture(scope="module")
def ours_xmlschema() -> dict[str, Any]:
    """Our four message schemas loaded with xmlschema."""
    import xmlschema  # noqa: PLC0415  (heavy import, only needed here)

    return {kind: xmlschema.XMLSchema10(str(path)) for kind, path in OUR_SCHEMAS.items()}


def test_xmlschema_agrees_with_lxml_on_our_schemas(
    ours: dict[str, etree.XMLSchema], ours_xmlschema: dict[str, Any]
) -> None:
    """xmlschema and lxml give the same verdict with our schemas on the valid corpus and on a set of
    mutations; the set includes both rejected and accepted mutants."""
    by_name = {m.name: m for m in MUTATIONS}
    checked: list[tuple[str, bool]] = []
    disagreements: list[str] = []
    cases: list[tuple[str, Sample, etree._Element]] = [("valid", s, parse(s.data)) for s in valid_corpus()]
    for name in XMLSCHEMA_MUTATIONS:
        cases += [(name, sample, doc) for sample, doc in _mutants(by_name[name])]
    for name, sample, doc in cases:
        lxml_ok = ours[sample.kind].validate(doc)
        xmlschema_ok = bool(ours_xmlschema[sample.kind].is_valid(etree.ElementTree(doc)))
        checked.append((name, lxml_ok))
        if lxml_ok != xmlschema_ok:
            disagreements.append(
                f"{name} on {sample.kind}/{sample.label}: "
                f"lxml {_verdict(lxml_ok)}, xmlschema {_verdict(xmlschema_ok)}"
            )
    assert not disagreements, "; ".join(disagreements)
    assert all(ok for name, ok in checked if name == "valid")
    assert any(not ok for _, ok in checked), "no rejected mutant was cross-checked"
    assert len({name for name, _ in checked}) == len(XMLSCHEMA_MUTATIONS) + 1
