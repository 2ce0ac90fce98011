"""The XSD stage: code ``XSD``, no retourcode, canonical paths, no sender-chosen names, every error reported.

Paths follow clarifications item 4: local names without prefixes, 1-based positions only where an element
name repeats under its parent. They must not depend on how the sender wrote the namespaces (prefixed,
default namespace, other prefixes).
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import date

import pytest

from gateway.results import Stage, Verdict
from gateway.testing.builders import Answer, Client, Declaration, answer_for, random_declaration, render
from tests.helpers import BASE, BSN_1, LINE_A, LINE_B, TODAY, validator

CLIENTS = "/Bericht/Declaratie/Clienten"
CANARY = "999900006"  # BSN_1 of the base message; also used inside element names


def run(data: bytes) -> Verdict:
    return validator().validate(data, "in.xml", today=TODAY)


def findings(verdict: Verdict) -> list[tuple[str, str | None, str | None, str]]:
    return [(e.code, e.retourcode, e.path, e.message) for e in verdict.errors]


def assert_schema(verdict: Verdict, message_type: str = "JW323") -> None:
    """Failed at the schema stage of a recognised type; every finding is XSD without retourcode."""
    assert verdict.valid is False
    assert verdict.stage is Stage.SCHEMA
    assert verdict.message_type == message_type
    assert verdict.errors
    assert all(e.code == "XSD" and e.retourcode is None for e in verdict.errors)


def other_prefixes(message: Declaration | Answer) -> bytes:
    """The message with unusual prefixes: ``m:`` for the message namespace, ``b:`` for the basisschema."""
    text = render(message).decode()
    for old, new in (
        ("jw323", "m"),
        ("jw325", "m"),
        ("wmo323", "m"),
        ("wmo325", "m"),
        ("ijw", "b"),
        ("iwmo", "b"),
    ):
        text = text.replace(f"<{old}:", f"<{new}:").replace(f"</{old}:", f"</{new}:")
        text = text.replace(f"xmlns:{old}=", f"xmlns:{new}=")
    return text.encode()


def all_forms(message: Declaration | Answer) -> dict[str, bytes]:
    return {
        "prefixed": render(message),
        "default-namespace": render(message, prefixed=False),
        "default-namespace-one-line": render(message, prefixed=False, crlf=False, indent=False),
        "other-prefixes": other_prefixes(message),
    }


FORMS = ["prefixed", "default-namespace", "default-namespace-one-line", "other-prefixes"]


def test_all_forms_of_the_base_are_valid() -> None:
    """Control: the base message is valid in every namespace form used below."""
    for name, data in all_forms(BASE).items():
        verdict = run(data)
        assert verdict.valid, name


class TestCanonicalPaths:
    @pytest.mark.parametrize("form", FORMS)
    def test_second_client_bsn(self, form: str) -> None:
        """An 8-digit Bsn of the second client is reported at .../Clienten/Client[2]/Bsn in every form."""
        message = replace(BASE, clients=(BASE.clients[0], replace(BASE.clients[1], bsn="99990001")))
        verdict = run(all_forms(message)[form])
        assert_schema(verdict)
        assert findings(verdict) == [
            ("XSD", None, f"{CLIENTS}/Client[2]/Bsn", "Bsn: value does not have the required format")
        ]

    @pytest.mark.parametrize("form", FORMS)
    def test_no_position_where_the_name_does_not_repeat(self, form: str) -> None:
        """With a single client and a single line, the path carries no positions at all."""
        message = replace(BASE, clients=(Client("99990001", (LINE_A,)),))
        verdict = run(all_forms(message)[form])
        assert_schema(verdict)
        assert [e.path for e in verdict.errors] == [f"{CLIENTS}/Client/Bsn"]

    @pytest.mark.parametrize("form", FORMS)
    def test_line_position_under_client(self, form: str) -> None:
        """A too-long ReferentieNummer (a basisschema element) of line 2 of client 1 has both positions."""
        message = replace(
            BASE,
            clients=(
                replace(BASE.clients[0], lines=(LINE_A, replace(LINE_B, reference="R" * 60))),
                BASE.clients[1],
            ),
        )
        verdict = run(all_forms(message)[form])
        assert_schema(verdict)
        assert findings(verdict) == [
            (
                "XSD",
                None,
                f"{CLIENTS}/Client[1]/Prestaties/Prestatie[2]/ProductReferentie/ReferentieNummer",
                "ReferentieNummer: value is longer than allowed",
            )
        ]

    @pytest.mark.parametrize("form", FORMS)
    def test_header_paths(self, form: str) -> None:
        """Header elements (message and basisschema namespaces) have plain paths."""
        message = replace(BASE, sender="1234567", message_id="")
        verdict = run(all_forms(message)[form])
        assert_schema(verdict)
        assert list(dict.fromkeys(e.path for e in verdict.errors)) == [
            "/Bericht/Header/Afzender",
            "/Bericht/Header/BerichtIdentificatie/Identificatie",
        ]

    def test_forms_give_identical_findings(self) -> None:
        """Three independent errors give exactly the same findings in every namespace form."""
        message = replace(
            BASE,
            number="DN-01",
            clients=(replace(BASE.clients[0], bsn="99990001"), replace(BASE.clients[1], bsn="9999000180")),
        )
        results = {form: findings(run(data)) for form, data in all_forms(message).items()}
        assert len({json.dumps(r) for r in results.values()}) == 1
        assert len(results["prefixed"]) >= 3

    @pytest.mark.parametrize("form", FORMS)
    def test_repeated_leaf_in_a_325(self, form: str) -> None:
        """JW325: the second header RetourCode is RetourCode[2]; a lone returned client's Bsn has none."""
        answer = answer_for(
            BASE,
            message_date=date(2025, 10, 20),
            rejected={"R2": ("9346",)},
            header_retourcodes=("0200", "XXXX"),
        )
        body = answer.body
        assert body is not None
        answer = replace(answer, body=replace(body, clients=(replace(body.clients[0], bsn="1"),)))
        verdict = run(all_forms(answer)[form])
        assert_schema(verdict, "JW325")
        assert findings(verdict) == [
            (
                "XSD",
                None,
                "/Bericht/Header/RetourCodes/RetourCode[2]",
                "RetourCode: value is not one of the allowed codes",
            ),
            (
                "XSD",
                None,
                "/Bericht/DeclaratieAntwoord/Clienten/Client/Bsn",
                "Bsn: value does not have the required format",
            ),
        ]

    def test_wmo_family_paths(self) -> None:
        """A WMO323 with a Jw product category is reported at the line's ProductCategorie."""
        wmo = replace(
            BASE,
            family="iwmo",
            clients=tuple(
                replace(c, lines=tuple(replace(ln, category="02", code="02A01") for ln in c.lines))
                for c in BASE.clients
            ),
        )
        assert run(render(wmo)).valid
        bad = replace(
            wmo,
            clients=(
                wmo.clients[0],
                replace(
                    wmo.clients[1],
                    lines=(replace(wmo.clients[1].lines[0], category="45"), wmo.clients[1].lines[1]),
                ),
            ),
        )
        verdict = run(render(bad, prefixed=False))
        assert_schema(verdict, "WMO323")
        assert findings(verdict) == [
            (
                "XSD",
                None,
                f"{CLIENTS}/Client[2]/Prestaties/Prestatie[1]/ProductCategorie",
                "ProductCategorie: value is not one of the allowed codes",
            )
        ]

    def test_missing_element_is_reported_at_its_successor(self) -> None:
        """A missing Afzender: reported at the element found instead, naming what was expected."""
        data = render(BASE).replace(b"<jw323:Afzender>12345678</jw323:Afzender>", b"")
        verdict = run(data)
        assert_schema(verdict)
        assert findings(verdict) == [
            (
                "XSD",
                None,
                "/Bericht/Header/Ontvanger",
                "Ontvanger: element not expected here; expected Afzender",
            )
        ]

    def test_wrong_bericht_code_for_the_namespace(self) -> None:
        """A BerichtCode that contradicts the namespace (491 in a JW323) is a schema error of that type."""
        verdict = run(render(BASE).replace(b">490<", b">491<", 1))
        assert_schema(verdict)
        assert [e.path for e in verdict.errors] == ["/Bericht/Header/BerichtCode"]


class TestForeignNames:
    @pytest.mark.parametrize(
        "element",
        [
            pytest.param(b"<jw323:X999900006/>", id="message-namespace"),
            pytest.param(b'<Jansen:X999900006 xmlns:Jansen="urn:bsn:999900006"/>', id="foreign-namespace"),
            pytest.param(b"<jw323:X999900006>999900006</jw323:X999900006>", id="with-value"),
            pytest.param(b'<X999900006 xmlns=""/>', id="no-namespace"),
        ],
    )
    def test_unknown_element_name_is_shown_as_star(self, element: bytes) -> None:
        """A foreign element whose name is a canary is '*' in path and message; the canary never shows."""
        data = render(BASE).replace(b"<jw323:Afzender>", element + b"<jw323:Afzender>", 1)
        verdict = run(data)
        assert_schema(verdict)
        assert findings(verdict) == [
            ("XSD", None, "/Bericht/Header/*", "*: element not expected here; expected Afzender")
        ]
        leak = CANARY in json.dumps(verdict.to_json())
        assert not leak, "the planted value appears in the verdict"

    def test_unknown_element_with_repeated_name_gets_positions(self) -> None:
        """Two foreign siblings with the same canary name: '*[1]'-style positions, still no name."""
        data = render(BASE).replace(
            b"<jw323:Afzender>", b"<jw323:X999900006/><jw323:X999900006/><jw323:Afzender>", 1
        )
        verdict = run(data)
        assert_schema(verdict)
        assert [e.path for e in verdict.errors] == ["/Bericht/Header/*[1]"]
        leak = CANARY in json.dumps(verdict.to_json())
        assert not leak, "the planted value appears in the verdict"

    def test_unknown_element_inside_a_leaf(self) -> None:
        """A foreign child inside Bsn: the Bsn is the path, the child's canary name never shows."""
        data = render(BASE).replace(b"<jw323:Bsn>999900006<", b"<jw323:Bsn><jw323:X999900018/>999900006<", 1)
        verdict = run(data)
        assert_schema(verdict)
        assert {e.path for e in verdict.errors} == {f"{CLIENTS}/Client[1]/Bsn"}
        assert "Bsn: element must not have child elements" in [e.message for e in verdict.errors]
        leak = "999900018" in json.dumps(verdict.to_json())
        assert not leak, "the planted value appears in the verdict"

    def test_unknown_root_name_in_known_namespace(self) -> None:
        """A root named with a canary in the JW323 namespace: path '/*', the name never shows."""
        data = render(BASE).replace(b"jw323:Bericht", b"jw323:X999900006")
        verdict = run(data)
        assert_schema(verdict)
        assert findings(verdict) == [
            ("XSD", None, "/*", "*: root element is not declared by the schema of this message type")
        ]

    def test_foreign_attribute_is_not_named(self) -> None:
        """A foreign attribute (canary name and value) on Bsn is reported on Bsn without naming it."""
        data = render(BASE).replace(
            b"<jw323:Bsn>999900006<", b'<jw323:Bsn X999900018="999900018">999900006<', 1
        )
        verdict = run(data)
        assert_schema(verdict)
        assert findings(verdict) == [
            ("XSD", None, f"{CLIENTS}/Client[1]/Bsn", "Bsn: element must not have attributes")
        ]
        leak = "999900018" in json.dumps(verdict.to_json())
        assert not leak, "the planted value appears in the verdict"

    def test_known_name_in_wrong_place_is_named(self) -> None:
        """A declared element name (a second Afzender) is shown: only sender-chosen names are hidden."""
        data = render(BASE).replace(
            b"<jw323:Ontvanger>", b"<jw323:Afzender>12345678</jw323:Afzender><jw323:Ontvanger>", 1
        )
        verdict = run(data)
        assert_schema(verdict)
        assert [(e.path, e.message.split(":")[0]) for e in verdict.errors] == [
            ("/Bericht/Header/Afzender[2]", "Afzender")
        ]


FOREIGN_CLIENT = b'<x:Client xmlns:x="urn:example:x"/>'


def with_foreign(form: str, where: str) -> bytes:
    """The base with a foreign ``x:Client`` before or after the two real clients, or ``x:Afzender``."""
    data = all_forms(BASE)[form]
    prefix = {"prefixed": b"jw323:", "other-prefixes": b"m:"}.get(form, b"")
    if where == "client-after":
        old, new = b"</" + prefix + b"Clienten>", FOREIGN_CLIENT + b"</" + prefix + b"Clienten>"
    elif where == "client-before":
        old, new = b"<" + prefix + b"Clienten>", b"<" + prefix + b"Clienten>" + FOREIGN_CLIENT
    else:
        old = b"</" + prefix + b"Afzender>"
        new = old + b'<x:Afzender xmlns:x="urn:example:x">1</x:Afzender>'
    assert data.count(old) == 1
    return data.replace(old, new)


class TestSameLocalNameInAnotherNamespace:
    """A foreign element that shares its local name with declared siblings (x:Client next to Client)."""

    @pytest.mark.parametrize("form", FORMS)
    def test_foreign_element_is_reported(self, form: str) -> None:
        """The foreign Client is an XSD error of the message type, reported once under Clienten/Client."""
        verdict = run(with_foreign(form, "client-after"))
        assert_schema(verdict)
        assert len(verdict.errors) == 1
        assert verdict.errors[0].message == "Client: element not expected here; expected Client"
        path = verdict.errors[0].path
        assert path is not None
        assert path.startswith(f"{CLIENTS}/Client")

    @pytest.mark.parametrize("form", FORMS)
    def test_foreign_element_after_declared_siblings_is_located(self, form: str) -> None:
        """x:Client after two real clients: the path is Clienten/Client[3] (the offending element)."""
        verdict = run(with_foreign(form, "client-after"))
        assert [e.path for e in verdict.errors] == [f"{CLIENTS}/Client[3]"]

    @pytest.mark.parametrize("form", FORMS)
    def test_position_counts_siblings_by_local_name(self, form: str) -> None:
        """x:Client before two real clients: three siblings are named Client, so the path is Client[1]."""
        verdict = run(with_foreign(form, "client-before"))
        assert [e.path for e in verdict.errors] == [f"{CLIENTS}/Client[1]"]

    @pytest.mark.parametrize("form", FORMS)
    def test_second_afzender_in_foreign_namespace(self, form: str) -> None:
        """A foreign x:Afzender right after Afzender is reported at Afzender[2]."""
        verdict = run(with_foreign(form, "afzender"))
        assert [e.path for e in verdict.errors] == ["/Bericht/Header/Afzender[2]"]


class TestEveryError:
    def test_two_independent_errors_give_two_findings(self) -> None:
        """A bad DeclaratieNummer and a bad Bsn far apart: both reported, in document order."""
        message = replace(
            BASE, number="DN-01", clients=(BASE.clients[0], replace(BASE.clients[1], bsn="99990001"))
        )
        verdict = run(render(message))
        assert_schema(verdict)
        assert findings(verdict) == [
            (
                "XSD",
                None,
                "/Bericht/Declaratie/DeclaratieNummer",
                "DeclaratieNummer: value does not have the required format",
            ),
            ("XSD", None, f"{CLIENTS}/Client[2]/Bsn", "Bsn: value does not have the required format"),
        ]

    def test_every_client_is_reported(self) -> None:
        """Three clients with bad BSNs: three findings, one per client position."""
        decl = random_declaration(random.Random(11), clients=3, today=TODAY)
        broken = replace(decl, clients=tuple(replace(c, bsn=c.bsn[:8]) for c in decl.clients))
        verdict = run(render(broken))
        assert_schema(verdict)
        assert [e.path for e in verdict.errors] == [f"{CLIENTS}/Client[{i}]/Bsn" for i in (1, 2, 3)]

    def test_schema_errors_stop_rule_checks(self) -> None:
        """An XSD-invalid message gets no rule findings even when rules would fail too (TR358 here)."""
        message = replace(
            BASE, total=(1, "D"), clients=(BASE.clients[0], replace(BASE.clients[1], bsn="99990001"))
        )
        verdict = run(render(message))
        assert_schema(verdict)
        assert {e.code for e in verdict.errors} == {"XSD"}

    @pytest.mark.parametrize(
        ("old", "new", "message"),
        [
            (
                b"<jw323:Bsn>999900006<",
                b"<jw323:Bsn>9999000061<",
                {"Bsn: value is longer than allowed", "Bsn: value does not have the required format"},
            ),
            (
                b"<jw323:Bsn>999900006<",
                b"<jw323:Bsn>ABCDEFGHI<",
                {"Bsn: value does not have the required format"},
            ),
            (
                b"<jw323:Bsn>999900006<",
                b'<jw323:Bsn xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true">999900006<',
                {"Bsn: element may not be nil"},
            ),
            (
                b"<jw323:Bsn>999900006<",
                b'<jw323:Bsn xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
                b' xsi:type="jw323:X999900018">999900006<',
                {"Bsn: unknown type requested"},
            ),
        ],
        ids=["ten-digits", "letters", "xsi-nil", "xsi-type"],
    )
    def test_bsn_failures_have_value_free_messages(self, old: bytes, new: bytes, message: set[str]) -> None:
        """Bsn failures say what is wrong (length, format, nil, type) at Client[1]/Bsn, never the value."""
        verdict = run(render(BASE).replace(old, new, 1))
        assert_schema(verdict)
        assert {e.path for e in verdict.errors} == {f"{CLIENTS}/Client[1]/Bsn"}
        assert {e.message for e in verdict.errors} == message
        text = json.dumps(verdict.to_json())
        leak = BSN_1 in text or "999900018" in text
        assert not leak, "the planted value appears in the verdict"

    def test_duplicate_findings_are_collapsed(self) -> None:
        """The same (path, message) is reported once, even if libxml2 repeats it."""
        verdict = run(render(BASE).replace(b"<jw323:Bsn>999900006<", b"<jw323:Bsn>9999000061<", 1))
        pairs = [(e.path, e.message) for e in verdict.errors]
        assert len(pairs) == len(set(pairs))
