"""The JW321 adapter: the example of legacy-formats.md B.7 minimised per D.6, with or without opt-out."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from filters.adapters import adapter_for
from filters.adapters.jw321 import Jw321Adapter, prestatiecode
from filters.policy import PolicyError, default_policy, parse_policy
from gateway.billing import record_problems, signed_total
from gateway.minimise import Minimiser, MinimiseResult
from gateway.results import Finding, Stage, Verdict
from gateway.stores.optouts import MemoryOptouts
from tests.helpers import TODAY, validator

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ei" / "JW321.txt"
MINIMISER = Minimiser(default_policy())

# legacy-formats.md D.6: the file minimised without opt-out (records without their trailing spaces).
D6 = """\
014340200P004711GGZDECL2.394060117000000000014VB2017000123201702102017F004711 2017010120170131EUR
02000000000001999900006200803142
04000000000002999900006VB0001                                  T2016000815    201603032017012010100800014425J144          01010041235000412350D
04000000000003999900006VB0002                                  T2016001207    201611072017011210100000011025J110          07010009870000098700D
02000000000004999900018201011021
04000000000005999900018VB0003                                  T2016000977    2016091220170127000000000902180002          01010008150000081500D
04000000000006999900018VB0004              VA0917              T2016000012    201601042016123010100100014225J142          01050025600000256000C
99000002000004000000000000600000336550D"""  # noqa: E501 - records are 143+ characters
D6_OPTOUT_VB0001 = (
    "04000000000002999900006VB0001                                  T2016000815    "
    "2016030320170120101000000000000000          01010041235000412350D"
)


def minimise(optouts: MemoryOptouts | None = None) -> MinimiseResult:
    checked = validator().check(EXAMPLE.read_bytes(), "jw321.txt", today=TODAY)
    assert checked.verdict.valid
    return MINIMISER.minimise(checked, optouts or MemoryOptouts())


def records(text: str) -> list[str]:
    assert text.endswith("\r\n")
    lines = text.split("\r\n")[:-1]
    assert all(len(line) == 310 for line in lines)
    return [line.rstrip() for line in lines]


class TestWithoutOptout:
    def test_filtered_is_d6(self) -> None:
        """D.3/D.6: the filtered file is exactly the worked example, and it validates as a JW321."""
        result = minimise()
        assert result.filtered is not None
        assert records(result.filtered) == D6.split("\n")
        again = validator().check(result.filtered.encode("ascii"), "f.txt", today=TODAY)
        assert again.verdict.valid
        assert again.verdict.message_type == "JW321"

    def test_billing_is_d4(self) -> None:
        """D.4/D.6: prestatiecode after minimisation, main group only on class 'other', all special."""
        billing = minimise().billing
        assert [(r["reference"], r["dbc_prestatiecode"], r["diagnosis_main_group"]) for r in billing] == [
            ("VB0001", "101008000144", "HG08"),
            ("VB0002", "101000000110", None),
            ("VB0003", "000000000902", None),
            ("VB0004", "101001000142", "HG01"),
        ]
        assert all(record_problems(r) == [] for r in billing)
        assert all(r["special_category"] and not r["restricted"] for r in billing)
        assert billing[0]["message_id"] == "VB2017000123"
        assert billing[0]["declaration_number"] == "2017F004711"
        assert billing[0]["product_period"] == {"start": "2016-03-03", "end": "2017-01-20"}
        assert billing[3]["previous_reference"] == "VA0917"
        assert (billing[0]["allocation_number"], billing[0]["product_category"], billing[0]["volume"]) == (
            None,
            None,
            None,
        )
        assert signed_total(billing) == 336550

    def test_audit_is_d5(self) -> None:
        """D.5: rule ids, actions and B.6 paths; one entry per dropped 98 record; never a value."""
        audit = [a.to_json() for a in minimise().audit]
        assert {
            "rule": "jw321-judicial-zorgtype",
            "path": "/JW321/R04[3]/DBC_PRESTATIECODE",
            "action": "coarsen",
        } in audit
        assert {
            "rule": "jw321-judicial-verwijzer",
            "path": "/JW321/R04[5]/TYPE_VERWIJZER",
            "action": "coarsen",
        } in audit
        assert {"rule": "jw321-comment-drop", "path": "/JW321/R98[4]", "action": "drop"} in audit
        assert [a["rule"] for a in audit].count("jw321-dsm-drop") == 3
        text = json.dumps(audit)
        for secret in ("296.32", "300.02", "314.01", "RECIDIEF", "999900006"):
            assert secret not in text


class TestWithOptout:
    def test_row4(self) -> None:
        """D.2 row 4 / D.6: VB0001 restricted; filtered record and billing record as in the example."""
        register = MemoryOptouts()
        register.add("999900006", "94060117", date(2017, 1, 1))
        result = minimise(register)
        assert result.filtered is not None
        assert records(result.filtered)[2] == D6_OPTOUT_VB0001
        first = result.billing[0]
        assert first == {
            "message_type": "JW321",
            "message_id": "VB2017000123",
            "sender_agb": "94060117",
            "municipality": "0014",
            "declaration_number": "2017F004711",
            "declaration_period": {"start": "2017-01-01", "end": "2017-01-31"},
            "client_bsn": "999900006",
            "reference": "VB0001",
            "previous_reference": None,
            "allocation_number": None,
            "product_category": None,
            "product_code": None,
            "product_period": {"start": "2016-03-03", "end": "2017-01-20"},
            "volume": None,
            "unit": None,
            "tariff_cents": None,
            "amount_cents": 412350,
            "debit_credit": "D",
            "special_category": True,
            "diagnosis_main_group": None,
            "dbc_prestatiecode": "101000000000",
            "restricted": True,
        }
        assert result.billing[1]["restricted"] is False  # VB0002 (diagnostiek): unchanged by the opt-out
        assert result.restricted is True
        (original,) = result.restricted_lines
        assert original.fields["product_code"] == "25J144"
        assert original.fields["dsm_code"] == "296.32"
        assert "296.32" not in json.dumps(result.to_json())

    def test_optout_after_dagtekening_does_not_count(self) -> None:
        """D.1: an opt-out received after the 01 record's DAGTEKENING does not apply."""
        register = MemoryOptouts()
        register.add("999900006", "94060117", date(2017, 2, 11))
        assert minimise(register).restricted is False


class TestAdapter:
    def test_registered_and_checked(self) -> None:
        """JW321 has this adapter; a policy that would change an unchangeable JW321 field is refused."""
        assert isinstance(adapter_for("JW321"), Jw321Adapter)
        bad = parse_policy(
            'policy_version = "x"\n[[rule]]\nid = "b"\nmatch = { message_type = "JW321" }\n'
            'action = "drop"\nfield = "productgroep"\n'
        )
        with pytest.raises(PolicyError, match='rule "b"'):
            Jw321Adapter().check(bad)

    def test_prestatiecode(self) -> None:
        """The derived prestatiecode joins the four triplets (absent ones as 000)."""
        fields = {"zorgtype": "101", "diagnosis": "008", "zorgvraagzwaarte": None, "productgroep": "144"}
        assert prestatiecode(fields) == "101008000144"

    def test_partly_rejected_file_bills_clean_records(self) -> None:
        """A record-level finding leaves that line out of billing; the others are billed (no filtered)."""
        checked = validator().check(EXAMPLE.read_bytes(), "jw321.txt", today=TODAY)
        finding = Finding("EI107", "9107", "/JW321/R04[5]/DECLARATIEBEDRAG", "m")
        result = MINIMISER.minimise(
            checked._replace(verdict=Verdict("x", "JW321", False, Stage.RULES, (finding,)))
        )
        assert [r["reference"] for r in result.billing] == ["VB0001", "VB0003", "VB0004"]
        assert result.filtered is None

    def test_jw322_bills_nothing(self) -> None:
        """D.7: a JW322 yields no billing."""
        data = (EXAMPLE.parent / "JW322.txt").read_bytes()
        result = MINIMISER.minimise(validator().check(data, "jw322.txt", today=TODAY))
        assert result.verdict.valid
        assert result.billing == []
