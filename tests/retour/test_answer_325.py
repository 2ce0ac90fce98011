"""325 answers built from checked 323s: valid, echoing exactly what was sent, per messages.md 3.2."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.model import Answer, Declaration
from gateway.registry import default_registry
from gateway.results import Finding, Stage, Verdict
from gateway.retour import build_answer, plan_answer
from gateway.retour.xml32 import write_325
from gateway.testing.builders import Client, random_declaration, render
from gateway.testing.builders import Declaration as BuiltDeclaration
from gateway.validation import Checked, Validator
from tests.helpers import BASE, BSN_1, LINE_A, LINE_B, LINE_C, LINE_D, TODAY

ANSWER_DAY = date(2025, 10, 20)


def checked(decl: BuiltDeclaration | bytes, today: date = TODAY) -> Checked:
    data = decl if isinstance(decl, bytes) else render(decl)
    return Validator().check(data, "in.xml", today=today)


def answer_of(c: Checked, day: date = ANSWER_DAY) -> bytes:
    out = build_answer(c, default_registry(), message_id="A1", today=day)
    assert out is not None
    return out


def verify(answer: bytes, c: Checked, today: date = TODAY) -> Answer:
    """The answer is a valid 325 on its own and against the declaration it answers; return its records."""
    assert isinstance(c.message, Declaration)
    v = Validator().check(answer, "answer.xml", today=today, declaration=c.message)
    assert v.verdict.valid, [(e.code, e.path) for e in v.verdict.errors]
    assert isinstance(v.message, Answer)
    return v.message


def codes_of(answer: bytes, name: str) -> list[list[str]]:
    root = etree.fromstring(answer)
    return [[rc.text or "" for rc in el] for el in root.iter(f"{{*}}{name}")]


class TestOutcomes:
    def test_all_granted(self) -> None:
        """A rule-valid 323: header 0200, declaration 8001, no clients, granted = submitted."""
        c = checked(BASE)
        answer = verify(answer_of(c), c)
        assert answer.header_retourcodes == ("0200",)
        assert answer.body is not None
        assert answer.body.retourcodes == ("8001",)
        assert answer.body.clients == ()
        assert answer.body.total_granted == answer.body.total_submitted
        assert answer.header.sender == BASE.receiver
        assert answer.header.receiver == BASE.sender
        assert answer.declaration_id == (BASE.message_id, BASE.message_date)

    def test_one_rejected_line(self) -> None:
        """A TR346 line is returned unchanged with 9346; the rest is granted (TR342 holds)."""
        bad = replace(
            BASE,
            clients=(
                replace(BASE.clients[0], lines=(LINE_A, replace(LINE_B, amount=24001))),
                BASE.clients[1],
            ),
        )
        c = checked(bad)
        assert not c.verdict.valid
        answer = verify(answer_of(c), c)
        assert answer.body is not None
        assert answer.body.retourcodes == ("0200",)
        (client,) = answer.body.clients
        assert client.bsn == BSN_1
        assert client.retourcodes == ("0200",)
        assert [(ln.reference, ln.retourcodes) for ln in client.lines] == [("R2", ("9346",))]
        total = 5000 + 24001 + 1200 - 2500
        assert answer.body.total_submitted == (total, "D")
        assert answer.body.total_granted == (total - 24001, "D")

    def test_client_error_rejects_that_client(self) -> None:
        """CS002 on one client: that client is returned with 0001 and its lines 0233; the other is granted.

        The echoed BSN is the provider's own (TR367), so the answer shows its CS002 defect too; the answer
        is otherwise valid: schema, totals (TR342) and the echo rules.
        """
        bad = replace(BASE, clients=(BASE.clients[0], Client("999900007", (LINE_C, LINE_D))))
        c = checked(bad)
        out = answer_of(c)
        assert isinstance(c.message, Declaration)
        v = Validator().check(out, "answer.xml", today=TODAY, declaration=c.message)
        assert [(e.code, e.path) for e in v.verdict.errors] == [
            ("CS002", "/Bericht/DeclaratieAntwoord/Clienten/Client/Bsn")
        ]
        answer = v.message
        assert isinstance(answer, Answer)
        assert answer.body is not None
        (client,) = answer.body.clients
        assert client.retourcodes == ("0001",)
        assert [ln.retourcodes for ln in client.lines] == [("0233",), ("0233",)]
        assert answer.body.total_granted == (5000 + 24000, "D")

    def test_level_two_error_on_a_line_rejects_only_that_line(self) -> None:
        """CD060 on one line (0001): that line is returned, the rest granted (clarifications item 10)."""
        bad = replace(
            BASE,
            clients=(
                BASE.clients[0],
                replace(BASE.clients[1], lines=(LINE_C, replace(LINE_D, previous_reference=None))),
            ),
        )
        c = checked(bad)
        out = answer_of(c)
        assert isinstance(c.message, Declaration)
        v = Validator().check(out, "answer.xml", today=TODAY, declaration=c.message)
        assert {e.code for e in v.verdict.errors} == {"CD060"}  # the echoed line's own defect, nothing else
        answer = v.message
        assert isinstance(answer, Answer)
        assert answer.body is not None
        assert answer.header_retourcodes == ("0200",)
        assert [(ln.reference, ln.retourcodes) for cl in answer.body.clients for ln in cl.lines] == [
            ("R4", ("0001",))
        ]
        assert answer.body.total_granted == (5000 + 24000 + 1200, "D")

    def test_header_error_rejects_whole_message(self) -> None:
        """TR135 (future date) is a Header error: header 8848, no declaration part."""
        future = replace(BASE, message_date=date(2026, 2, 1))
        c = checked(future)
        answer = verify(answer_of(c), c)
        assert answer.header_retourcodes == ("8848",)
        assert answer.body is None

    def test_declaration_level_0001_rejects_whole_message(self) -> None:
        """TR358 (wrong total) rejects the message as a whole: header 0001, no DeclaratieAntwoord."""
        c = checked(replace(BASE, total=(1, "D")))
        answer = verify(answer_of(c), c)
        assert answer.header_retourcodes == ("0001",)
        assert answer.body is None

    def test_no_answer_to_unreadable_or_xsd_invalid(self) -> None:
        """No 325 for a transport or schema failure (the national chain sends none either)."""
        assert build_answer(checked(b"not xml"), default_registry(), message_id="A1", today=TODAY) is None
        broken = render(BASE).replace(b"<ijw:DebetCredit>D<", b"<ijw:DebetCredit>X<", 1)
        c = checked(broken)
        assert c.verdict.stage is not None
        assert c.verdict.stage.value == "schema"
        assert plan_answer(c.verdict) is None
        assert build_answer(c, default_registry(), message_id="A1", today=TODAY) is None

    def test_no_answer_to_an_answer(self) -> None:
        """A 325 itself gets no answer."""
        c = checked(BASE)
        answer = checked(answer_of(c))
        assert build_answer(answer, default_registry(), message_id="A2", today=TODAY) is None

    def test_wmo323_gets_a_wmo325(self) -> None:
        """The answer type follows the catalogue: WMO323 -> WMO325 in the iWmo namespaces."""
        wmo = replace(
            BASE,
            family="iwmo",
            clients=tuple(
                replace(cl, lines=tuple(replace(ln, category="02", code="02A01") for ln in cl.lines))
                for cl in BASE.clients
            ),
        )
        c = checked(wmo)
        out = answer_of(c)
        assert Validator().validate(out, today=TODAY).message_type == "WMO325"
        verify(out, c)


class TestExactEcho:
    def test_lexical_form_is_kept(self) -> None:
        """Values are echoed as sent, e.g. a ToewijzingNummer written with a sign and leading zeros."""
        bad = replace(
            BASE,
            clients=(
                replace(BASE.clients[0], lines=(LINE_A, replace(LINE_B, amount=24001))),
                BASE.clients[1],
            ),
        )
        data = render(bad).replace(b">1002<", b">+0001002<", 1)
        c = checked(data)
        out = answer_of(c)
        verify(out, c)
        assert b">+0001002<" in out

    def test_comments_are_not_echoed(self) -> None:
        """Comments in a rejected line are dropped at intake and never come back in the answer."""
        bad = replace(
            BASE,
            clients=(
                replace(BASE.clients[0], lines=(LINE_A, replace(LINE_B, amount=24001))),
                BASE.clients[1],
            ),
        )
        data = render(bad).replace(b">R2<", b">R2<!-- Jansen 999900006 --><", 1).replace(b"<<", b"<", 1)
        c = checked(data)
        out = answer_of(c)
        assert b"Jansen" not in out
        verify(out, c)

    def test_message_id_length_is_checked(self) -> None:
        """A 325 message id must have 1 to 12 characters."""
        c = checked(BASE)
        with pytest.raises(ValueError, match="1 to 12"):
            build_answer(c, default_registry(), message_id="X" * 13, today=TODAY)


@settings(max_examples=60)
@given(seed=st.integers(0, 2**32 - 1), data=st.data())
def test_generated_declarations_with_broken_lines(seed: int, data: st.DataObject) -> None:
    """For generated 323s with some lines broken (TR346), the 325 is valid, echoes exactly, balances."""
    decl = random_declaration(random.Random(seed), today=TODAY)
    broken: set[str] = set()
    clients = []
    for client in decl.clients:
        lines = []
        for original in client.lines:
            line = original
            if line.unit not in ("83", "01") and line.debit_credit == "D" and data.draw(st.booleans()):
                line = replace(line, amount=line.amount + 1)
                broken.add(line.reference)
            lines.append(line)
        clients.append(replace(client, lines=tuple(lines)))
    c = checked(replace(decl, clients=tuple(clients), total=None))
    out = answer_of(c, TODAY)
    answer = verify(out, c)
    assert answer.body is not None
    returned = {ln.reference: ln.retourcodes for cl in answer.body.clients for ln in cl.lines}
    assert returned == dict.fromkeys(broken, ("9346",))
    assert answer.body.retourcodes == (("0200",) if broken else ("8001",))


class TestPlan:
    def test_client_level_code_rejects_that_client(self) -> None:
        """A level-3/4 code on a Client rejects that client; its lines are not assessed (0233)."""
        verdict = Verdict(
            "x",
            "JW323",
            False,
            Stage.RULES,
            (Finding("TR304", "8187", "/Bericht/Declaratie/Clienten/Client[2]/Bsn", "m"),),
        )
        plan = plan_answer(verdict)
        assert plan is not None
        assert plan.header_codes == ("0200",)
        assert plan.declaration_codes == ("0200",)
        assert plan.clients == {1: ("8187",)}
        assert plan.line(1, 0).codes == ("0233",)
        assert plan.line(0, 0).granted

    def test_declaration_level_code_grants_nothing(self) -> None:
        """A level-3/4 code on the Declaratie class: header 0200, that code, every line not assessed."""
        verdict = Verdict(
            "x",
            "JW323",
            False,
            Stage.RULES,
            (Finding("TR333", "9333", "/Bericht/Declaratie/DeclaratieNummer", "m"),),
        )
        plan = plan_answer(verdict)
        assert plan is not None
        assert (plan.header_codes, plan.declaration_codes) == (("0200",), ("9333",))
        assert not plan.line(0, 0).granted

    def test_declaration_level_answer_is_valid(self) -> None:
        """Written out, a 9333 answer has the totals TR342 wants (granted 0, no clients) and validates."""
        c = checked(BASE)
        plan = plan_answer(
            Verdict(
                "x",
                "JW323",
                False,
                Stage.RULES,
                (Finding("TR333", "9333", "/Bericht/Declaratie/DeclaratieNummer", "m"),),
            )
        )
        assert plan is not None
        assert isinstance(c.message, Declaration)
        assert c.root is not None
        spec = default_registry().spec_named("JW325")
        assert spec is not None
        out = write_325(c.root, c.message, plan, spec, message_id="A9", today=ANSWER_DAY)
        answer = verify(out, c)
        assert answer.body is not None
        assert answer.body.total_granted == (0, "D")
        assert answer.body.retourcodes == ("9333",)


class TestTemplatePath:
    """The common answer (no client returned) is rendered from a template: byte-identical to the elements."""

    @staticmethod
    def both(c: Checked, plan: object = None) -> tuple[bytes, bytes]:
        assert isinstance(c.message, Declaration)
        assert c.root is not None
        p = plan if plan is not None else plan_answer(c.verdict)
        assert p is not None
        spec = default_registry().spec_named("JW325" if c.verdict.message_type == "JW323" else "WMO325")
        assert spec is not None
        kwargs = {"message_id": "A&<1", "today": ANSWER_DAY}
        fast = write_325(c.root, c.message, p, spec, **kwargs)  # type: ignore[arg-type]
        slow = write_325(c.root, c.message, p, spec, by_element=True, **kwargs)  # type: ignore[arg-type]
        return fast, slow

    def test_all_granted_is_identical(self) -> None:
        """All granted: the same bytes either way."""
        fast, slow = self.both(checked(BASE))
        assert fast == slow

    def test_whole_rejection_is_identical(self) -> None:
        """Header-only answer (TR358): the same bytes either way."""
        fast, slow = self.both(checked(replace(BASE, total=(1, "D"))))
        assert fast == slow

    def test_declaration_rejection_is_identical(self) -> None:
        """A 9333 answer (granted 0, no clients): the same bytes either way."""
        plan = plan_answer(
            Verdict(
                "x",
                "JW323",
                False,
                Stage.RULES,
                (Finding("TR333", "9333", "/Bericht/Declaratie/DeclaratieNummer", "m"),),
            )
        )
        fast, slow = self.both(checked(BASE), plan)
        assert fast == slow

    def test_escaping_is_identical(self) -> None:
        """Texts with &, <, > and a carriage return (as a character reference) are escaped as lxml does."""
        # An integer may carry whitespace (collapsed by the schema), so a carriage return can reach an echo.
        data = render(replace(BASE, message_id="M&<>1")).replace(
            b"<ijw:TotaalBedrag>27700<", b"<ijw:TotaalBedrag>&#13;27700<", 1
        )
        assert b"&#13;27700" in data
        c = checked(data)
        assert c.verdict.valid, c.verdict.errors
        fast, slow = self.both(c)
        assert fast == slow
        assert b"&#13;" in fast
        verify(fast, c)
