"""The 2.x adapter (JW303D/F, WMO303D/F): billing per legacy-formats.md A.7, opt-outs, filtered 303."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filters.adapters import adapter_for
from filters.adapters.xml2x import Xml2xAdapter
from filters.policy import PolicyError, default_policy, parse_policy
from filters.products import parse_products
from gateway.billing import record_problems, signed_total
from gateway.minimise import Minimiser, MinimiseResult
from gateway.stores.optouts import MemoryOptouts
from gateway.testing.builders import signed as signed_2x
from gateway.testing.builders_2x import Declaration, declaration_total, random_303, render_303
from tests.helpers import TODAY, validator

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "2.1"
PRODUCTS = parse_products(
    'table_version = "2x"\n[[product]]\nmunicipality = "*"\ncategory = "45"\ncode = "45Dy1"\n'
    'reveals_disorder = true\nneutral_code = "45Nn1"\n'
)
MINIMISER = Minimiser(default_policy(), PRODUCTS)


def minimise(data: bytes, optouts: MemoryOptouts | None = None) -> MinimiseResult:
    checked = validator().check(data, "m.xml", today=TODAY)
    assert checked.verdict.valid, [e.code for e in checked.verdict.errors]
    return MINIMISER.minimise(checked, optouts or MemoryOptouts())


def with_disorder_line(message: Declaration) -> Declaration:
    """The first client's first line on the disorder-naming code 45Dy1 (category 45)."""
    first = message.clients[0]
    line = replace(first.lines[0], category="45", code="45Dy1")
    return replace(message, clients=(replace(first, lines=(line, *first.lines[1:])), *message.clients[1:]))


class TestExamples:
    @pytest.mark.parametrize("name", ["JW303D", "JW303F", "WMO303D", "WMO303F"])
    def test_billing_per_a7(self, name: str) -> None:
        """A.7: one record per Prestatie; message id = declaration number; absent elements null."""
        result = minimise((EXAMPLES / f"{name}.xml").read_bytes())
        assert result.billing
        for record in result.billing:
            assert record_problems(record) == []
            assert record["message_type"] == name
            assert record["message_id"] == record["declaration_number"]
            assert record["diagnosis_main_group"] is None
            assert record["dbc_prestatiecode"] is None
        assert any(r["product_code"] is None for r in result.billing)  # the example has a line without one
        assert result.filtered is not None
        assert validator().check(result.filtered.encode(), "f.xml", today=TODAY).verdict.valid

    @pytest.mark.parametrize("name", ["JW304", "WMO304"])
    def test_retour_bills_nothing(self, name: str) -> None:
        """A.7: a 304 produces no billing records; its filtered text is the 304."""
        result = minimise((EXAMPLES / f"{name}.xml").read_bytes())
        assert result.billing == []
        assert (result.filtered or "").startswith("<?xml")

    def test_registered(self) -> None:
        """The 2.x declaration types have the 2.x adapter."""
        assert isinstance(adapter_for("JW303F"), Xml2xAdapter)
        assert adapter_for("JW304") is None


class TestOptout:
    def test_restricted_on_factuur_dagtekening(self) -> None:
        """Clar. 14: the opt-out counts when it started on or before the FactuurDagtekening."""
        message = with_disorder_line(random_303(random.Random(3), clients=1, lines_per_client=2))
        bsn, agb = message.clients[0].bsn, message.sender
        on_time, too_late = MemoryOptouts(), MemoryOptouts()
        on_time.add(bsn, agb, message.invoice_date)
        too_late.add(bsn, agb, message.invoice_date + timedelta(days=1))
        restricted = minimise(render_303(message), on_time)
        assert restricted.billing[0]["restricted"] is True
        assert restricted.billing[0]["product_code"] is None
        assert "45Dy1" not in json.dumps(restricted.billing)
        assert "45Dy1" not in (restricted.filtered or "")
        assert "45Nn1" in (restricted.filtered or "")
        assert restricted.audit[0].path.startswith("/Bericht/Clienten/Client")
        assert validator().check((restricted.filtered or "").encode(), "f.xml", today=TODAY).verdict.valid
        assert minimise(render_303(message), too_late).restricted is False

    def test_birth_date_never_in_billing(self) -> None:
        """2.x clients carry a birth date; no billing field holds it."""
        message = random_303(random.Random(5), clients=2)
        result = minimise(render_303(message))
        text = json.dumps(result.billing)
        for client in message.clients:
            assert client.birth_date.isoformat() not in text


class TestCheck:
    def test_unwritable_change_names_2x(self) -> None:
        """A policy that would change the BSN of a 303 is refused, naming the rule and the 2.x types."""
        policy = parse_policy(
            'policy_version = "x"\n[[rule]]\nid = "b"\naction = "drop"\nfield = "client_bsn"\n'
        )
        with pytest.raises(PolicyError) as info:
            Xml2xAdapter().check(policy)
        assert 'rule "b" (#1)' in str(info.value)
        assert "JW303D" in str(info.value)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), family=st.sampled_from(["ijw", "iwmo"]), invoice=st.booleans())
def test_random_303_properties(seed: int, family: str, invoice: bool) -> None:
    """Random valid 303s: totals reconcile, records follow the contract, the filtered 303 validates."""
    message = random_303(random.Random(seed), family=family, invoice=invoice)  # type: ignore[arg-type]
    if family == "ijw":
        message = with_disorder_line(message)
    register = MemoryOptouts()
    register.add(message.clients[0].bsn, message.sender, date(2010, 1, 1))
    result = minimise(render_303(message), register)
    assert signed_total(result.billing) == signed_2x(*declaration_total(message))
    assert all(record_problems(r) == [] for r in result.billing)
    assert result.filtered is not None
    assert validator().check(result.filtered.encode(), "f.xml", today=TODAY).verdict.valid
    assert "45Dy1" not in result.filtered
    assert result.restricted is (family == "ijw")
