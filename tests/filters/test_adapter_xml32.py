"""The 3.2 adapter: what a policy may change in a JW323/WMO323, paths, filtered text, originals."""

from __future__ import annotations

from dataclasses import replace

import pytest
from lxml import etree

from filters.adapters import adapter_for
from filters.adapters.base import UnsupportedChange
from filters.adapters.xml32 import Xml32Adapter
from filters.policy import PolicyError, parse_policy
from filters.products import EMPTY
from gateway.minimise import Minimiser
from gateway.model import Declaration as DeclarationRecord
from gateway.testing.builders import render
from tests.helpers import BASE, BSN_1, BSN_2, TODAY, validator

HEAD = 'policy_version = "t"\n'


def checked_base() -> tuple[DeclarationRecord, etree._Element]:
    checked = validator().check(render(BASE), "b.xml", today=TODAY)
    assert isinstance(checked.message, DeclarationRecord)
    assert checked.root is not None
    return checked.message, checked.root


class TestCheck:
    @pytest.mark.parametrize(
        ("rule", "expected"),
        [
            ('action = "drop"\nfield = "client_bsn"\n', '"client_bsn" cannot be changed'),
            ('action = "pseudonymise"\nfield = "client_bsn"\n', '"client_bsn" cannot be changed'),
            ('action = "drop"\nfield = "product_code"\n', "can only be replaced by another code"),
            ('action = "neutralise"\nfield = "product_code"\nvalue = "TOOLONG"\n', "not a ProductCode"),
            (
                'action = "neutralise"\nfield = "tariff_cents"\nvalue = 0\n',
                '"tariff_cents" cannot be changed',
            ),
        ],
    )
    def test_unwritable_changes_rejected(self, rule: str, expected: str) -> None:
        """A policy asking for a change a 323 cannot carry is rejected, naming the rule."""
        policy = parse_policy(HEAD + '[[rule]]\nid = "bad"\n' + rule)
        with pytest.raises(PolicyError) as info:
            Xml32Adapter().check(policy)
        assert 'rule "bad" (#1)' in str(info.value)
        assert expected in str(info.value)

    def test_billing_only_and_other_formats_accepted(self) -> None:
        """Billing-only changes, rules limited to other types and non-3.2 fields are fine."""
        policy = parse_policy(
            HEAD
            + '[[rule]]\nid = "a"\naction = "drop"\nfield = "client_bsn"\ntarget = "billing"\n'
            + '[[rule]]\nid = "b"\nmatch = { message_type = "JW325" }\naction = "drop"\n'
            + 'field = "tariff_cents"\n'
            + '[[rule]]\nid = "c"\naction = "drop"\nfield = "dsm_code"\n'
            + '[[rule]]\nid = "d"\naction = "neutralise"\nfield = "product_code"\nvalue = "99999"\n'
        )
        Xml32Adapter().check(policy)  # no exception
        assert Minimiser(policy).policy is policy

    def test_minimiser_checks_at_construction(self) -> None:
        """The minimiser refuses such a policy before any message is read."""
        policy = parse_policy(HEAD + '[[rule]]\nid = "bad"\naction = "drop"\nfield = "client_bsn"\n')
        with pytest.raises(PolicyError, match="bad"):
            Minimiser(policy)


class TestPrepared:
    def test_views_paths_and_subjects(self) -> None:
        """Each line becomes a view; paths follow the contract; opt-outs are asked on the declaration date."""
        record, root = checked_base()
        prepared = Xml32Adapter().prepare(record, root, message_type="JW323", products=EMPTY)
        assert len(prepared.lines) == 4
        assert prepared.positions == ((0, 0), (0, 1), (1, 0), (1, 1))
        assert prepared.lines[2].fields["client_bsn"] == BSN_2
        assert prepared.lines[0].fields["product_period"] == ("2025-09-01", "2025-09-30")
        subject = prepared.optout_subjects[0]
        assert subject is not None
        assert (subject.bsn, subject.agb, subject.on) == (BSN_1, BASE.sender, BASE.declaration_date)
        assert BSN_1 not in repr(subject)
        assert prepared.paths(3, "product_code") == (
            "/Bericht/Declaratie/Clienten/Client[2]/Prestaties/Prestatie[2]/ProductCode",
        )
        assert prepared.paths(2, "client_bsn") == ("/Bericht/Declaratie/Clienten/Client[2]/Bsn",)
        assert prepared.paths(0, "message_id") == ("/Bericht/Header/BerichtIdentificatie/Identificatie",)
        assert prepared.paths(0, None) == ("/Bericht/Declaratie/Clienten/Client[1]/Prestaties/Prestatie[1]",)
        assert prepared.message_view is None

    def test_include_selects_lines(self) -> None:
        """``include`` keeps only the chosen positions (the granted lines of a partly rejected message)."""
        record, root = checked_base()
        prepared = Xml32Adapter().prepare(
            record, root, message_type="JW323", products=EMPTY, include=lambda p: p[0] == 1
        )
        assert prepared.positions == ((1, 0), (1, 1))

    def test_render_writes_product_code_into_a_copy(self) -> None:
        """Changes go into a copy of the tree; the checked tree stays as it was."""
        record, root = checked_base()
        before = etree.tostring(root)
        prepared = Xml32Adapter().prepare(record, root, message_type="JW323", products=EMPTY)
        text = prepared.render([{"product_code": "ZZ999"}, {}, {}, {}], {})
        assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
        assert "ZZ999" in text
        assert etree.tostring(root) == before
        assert validator().check(text.encode(), "f.xml", today=TODAY).verdict.valid

    def test_render_refuses_what_the_format_cannot_carry(self) -> None:
        """A value a 323 cannot carry is our fault: UnsupportedChange, never a broken message."""
        record, root = checked_base()
        prepared = Xml32Adapter().prepare(record, root, message_type="JW323", products=EMPTY)
        with pytest.raises(UnsupportedChange):
            prepared.render([{"product_code": "TOO-LONG"}, {}, {}, {}], {})
        with pytest.raises(UnsupportedChange):
            prepared.render([{"client_bsn": None}, {}, {}, {}], {})

    def test_fragment_is_the_original_line(self) -> None:
        """The fragment for the restricted store is the original Prestatie element."""
        record, root = checked_base()
        prepared = Xml32Adapter().prepare(record, root, message_type="JW323", products=EMPTY)
        fragment = prepared.fragment(1)
        assert "Prestatie" in fragment
        assert BASE.clients[0].lines[1].code in fragment

    def test_prepare_needs_a_declaration(self) -> None:
        """The adapter refuses anything but a 323 record and its tree."""
        with pytest.raises(TypeError):
            Xml32Adapter().prepare(object(), None, message_type="JW323", products=EMPTY)


def test_adapter_registry() -> None:
    """Adapters are found by message type; types without one (yet) have none."""
    assert adapter_for("JW323") is adapter_for("WMO323")
    assert adapter_for("JW325") is None
    assert adapter_for(None) is None


def test_wmo_paths_same_shape() -> None:
    """A WMO323 uses the same element layout (only the namespace differs)."""
    wmo = replace(
        BASE,
        family="iwmo",
        clients=tuple(
            replace(c, lines=tuple(replace(x, category="02", code="02A01") for x in c.lines))
            for c in BASE.clients
        ),
    )
    checked = validator().check(render(wmo), "w.xml", today=TODAY)
    assert checked.verdict.valid
    prepared = Xml32Adapter().prepare(checked.message, checked.root, message_type="WMO323", products=EMPTY)
    assert prepared.lines[0].attrs["message_type"] == "WMO323"
