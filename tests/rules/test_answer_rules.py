"""Rules of the 325 on its own (TR342, CS319, CS325, line rules) and against its 323 (echo rules)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.results import Stage
from gateway.testing.builders import Answer, AnswerBody, answer_for, random_declaration
from tests.helpers import BASE, LINE_B, TODAY, check, codes

BODY = "/Bericht/DeclaratieAntwoord"


def body(answer: Answer) -> AnswerBody:
    assert answer.body is not None
    return answer.body


class TestOwnRules:
    def test_fully_granted_answer_is_valid(self) -> None:
        """A 325 granting everything (8001, no clients, granted = submitted) is valid."""
        answer = answer_for(BASE, message_date=date(2025, 10, 20))
        assert body(answer).retourcodes == ("8001",)
        verdict = check(answer)
        assert verdict.valid, verdict.errors
        assert verdict.message_type == "JW325"

    def test_partly_rejected_answer_is_valid(self) -> None:
        """A 325 returning one rejected line with its code, granting the rest, is valid (and its echo too)."""
        answer = answer_for(BASE, message_date=date(2025, 10, 20), rejected={"R2": ("9346",)})
        assert check(answer).valid
        assert check(answer, declaration=BASE).valid

    def test_header_only_rejection_is_valid(self) -> None:
        """A whole-message rejection (header 0001, no DeclaratieAntwoord) is a valid 325."""
        answer = answer_for(BASE, message_date=date(2025, 10, 20), header_retourcodes=("0001",), body=False)
        assert check(answer).valid

    def test_wmo325_is_recognised(self) -> None:
        """The WMO325 (our derived schema) validates and carries its own type name."""
        wmo = replace(
            BASE,
            family="iwmo",
            clients=tuple(
                replace(c, lines=tuple(replace(ln, category="02", code="02A01") for ln in c.lines))
                for c in BASE.clients
            ),
        )
        verdict = check(answer_for(wmo, message_date=date(2025, 10, 20), rejected={"R1": ("9307",)}))
        assert verdict.valid, verdict.errors
        assert verdict.message_type == "WMO325"

    def test_granted_total_must_balance(self) -> None:
        """TR342: returned lines must equal submitted minus granted."""
        answer = answer_for(
            BASE, message_date=date(2025, 10, 20), rejected={"R2": ("9346",)}, granted=(1, "D")
        )
        verdict = check(answer)
        assert verdict.stage is Stage.RULES
        assert [(e.code, e.retourcode, e.path) for e in verdict.errors] == [
            ("TR342", "0001", f"{BODY}/TotaalToegekendBedrag")
        ]

    def test_returned_line_must_be_rejected(self) -> None:
        """TR342: a returned Prestatie that carries only 0200 was not rejected and may not be returned."""
        answer = answer_for(BASE, message_date=date(2025, 10, 20), rejected={"R2": ("0200",)})
        verdict = check(answer)
        assert [(e.code, e.path) for e in verdict.errors] == [
            ("TR342", f"{BODY}/Clienten/Client/Prestaties/Prestatie/RetourCodes")
        ]

    def test_rejected_declaration_grants_nothing(self) -> None:
        """TR342: with a rejection code on the Declaratie class, nothing may be granted."""
        answer = answer_for(BASE, message_date=date(2025, 10, 20), body_retourcodes=("9333",))
        total = body(answer).total_submitted
        bad = replace(answer, body=replace(body(answer), total_granted=total))
        assert codes(check(bad)) == ["TR342"]
        good = replace(answer, body=replace(body(answer), total_granted=(0, "D"), clients=()))
        assert check(good).valid

    def test_declaration_number_alphanumeric(self) -> None:
        """CS319: the 325 schema allows any DeclaratieNummer, the rule allows letters and digits only."""
        answer = answer_for(BASE, message_date=date(2025, 10, 20))
        verdict = check(replace(answer, body=replace(body(answer), number="DN-1")))
        assert [(e.code, e.path) for e in verdict.errors] == [("CS319", f"{BODY}/DeclaratieNummer")]

    def test_zero_total_must_be_debit(self) -> None:
        """CS325 on the 325 totals: a zero TotaalToegekendBedrag marked C is an error."""
        answer = answer_for(
            BASE, message_date=date(2025, 10, 20), body_retourcodes=("9333",), granted=(0, "C")
        )
        assert "CS325" in codes(check(answer))

    def test_line_rules_apply_to_returned_lines(self) -> None:
        """Line rules (CS002 on a returned client's BSN) apply to a 325 as well."""
        answer = answer_for(BASE, message_date=date(2025, 10, 20), rejected={"R2": ("9346",)})
        client = body(answer).clients[0]
        broken = replace(answer, body=replace(body(answer), clients=(replace(client, bsn="999900007"),)))
        assert codes(check(broken)) == ["CS002"]

    def test_future_answer_date(self) -> None:
        """TR135 applies to the 325's own Dagtekening."""
        answer = answer_for(BASE, message_date=date(2026, 3, 1))
        assert codes(check(answer, today=TODAY)) == ["TR135"]


class TestEchoRules:
    def answer(self) -> Answer:
        return answer_for(BASE, message_date=date(2025, 10, 20), rejected={"R2": ("9346",)})

    def test_without_declaration_echo_rules_do_not_run(self) -> None:
        """Without --declaration a 325 with a foreign DeclaratieIdentificatie is still valid on its own."""
        answer = replace(self.answer(), declaration_id=("OTHER", date(2025, 10, 6)))
        assert check(answer).valid

    @pytest.mark.parametrize(
        ("mutate", "expected"),
        [
            (
                lambda a: replace(a, declaration_id=("OTHER", a.declaration_id[1])),
                ("TR337", None, "/Bericht/Header/DeclaratieIdentificatie"),
            ),
            (
                lambda a: replace(a, declaration_id=(a.declaration_id[0], date(2025, 10, 7))),
                ("TR337", None, "/Bericht/Header/DeclaratieIdentificatie"),
            ),
            (
                lambda a: replace(a, declaration_xsd_version=("1.0.0", "1.0.1")),
                ("TR371", None, "/Bericht/Header/XsdVersieDeclaratie"),
            ),
            (
                lambda a: replace(a, body=replace(a.body, number="DN0002")),
                ("TR376", None, f"{BODY}/DeclaratieNummer"),
            ),
        ],
        ids=["TR337-identificatie", "TR337-dagtekening", "TR371", "TR376"],
    )
    def test_header_echo(self, mutate: object, expected: tuple[str, str | None, str]) -> None:
        """Header and declaration echo rules report their code (they have no retourcode) at the element."""
        verdict = check(mutate(self.answer()), declaration=BASE)  # type: ignore[operator]
        assert [(e.code, e.retourcode, e.path) for e in verdict.errors] == [expected]

    def test_changed_line_value_is_tr367(self) -> None:
        """TR367: a returned line whose amount differs from the 323 line with the same reference."""
        answer = self.answer()
        client = body(answer).clients[0]
        changed = replace(
            client, lines=(replace(client.lines[0], volume=LINE_B.volume + 1, amount=LINE_B.amount),)
        )
        verdict = check(replace(answer, body=replace(body(answer), clients=(changed,))), declaration=BASE)
        assert [(e.code, e.retourcode, e.path) for e in verdict.errors] == [
            ("TR367", "9367", f"{BODY}/Clienten/Client/Prestaties/Prestatie")
        ]

    def test_changed_bsn_is_tr367_at_bsn(self) -> None:
        """TR367 on the Bsn: a returned line placed under another (valid) client's BSN."""
        answer = self.answer()
        client = body(answer).clients[0]
        moved = replace(client, bsn="999900018")
        verdict = check(replace(answer, body=replace(body(answer), clients=(moved,))), declaration=BASE)
        assert [(e.code, e.path) for e in verdict.errors] == [("TR367", f"{BODY}/Clienten/Client/Bsn")]

    def test_unknown_reference_is_tr366(self) -> None:
        """TR366: a returned line whose reference is not in the 323."""
        answer = self.answer()
        client = body(answer).clients[0]
        unknown = replace(client, lines=(replace(client.lines[0], reference="R99"),))
        verdict = check(replace(answer, body=replace(body(answer), clients=(unknown,))), declaration=BASE)
        assert [(e.code, e.retourcode) for e in verdict.errors] == [("TR366", "9366")]

    @settings(max_examples=60, deadline=None)
    @given(seed=st.integers(min_value=0, max_value=2**32 - 1), data=st.data())
    def test_generated_answers_echo_their_declaration(self, seed: int, data: st.DataObject) -> None:
        """For generated 323s, a 325 rejecting any subset of lines passes its own and the echo rules."""
        decl = random_declaration(random.Random(seed), today=TODAY)
        refs = [ln.reference for c in decl.clients for ln in c.lines]
        chosen = data.draw(st.lists(st.sampled_from(refs), unique=True))
        answer = answer_for(decl, message_date=TODAY, rejected=dict.fromkeys(chosen, ("9338",)))
        verdict = check(answer, declaration=decl)
        assert verdict.valid, [(e.code, e.path) for e in verdict.errors]
