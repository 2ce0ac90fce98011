"""JW304/WMO304 answers built from checked 303s with the same plan as the 325: valid, full echo."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.model_2x import Answer2x
from gateway.registry import default_registry
from gateway.retour import build_answer
from gateway.testing.builders_2x import Declaration, random_303, render_303
from gateway.validation import Checked, Validator

DAY = date(2026, 1, 15)


def check(decl: Declaration) -> Checked:
    return Validator().check(render_303(decl), "in.xml", today=DAY)


def answer_records(c: Checked) -> Answer2x:
    out = build_answer(c, default_registry(), message_id="RET1", today=DAY)
    assert out is not None
    v = Validator().check(out, "out.xml", today=DAY)
    assert v.verdict.valid, [(e.code, e.path) for e in v.verdict.errors]
    assert isinstance(v.message, Answer2x)
    return v.message


def decl_with_lines(seed: int, minimum: int = 2) -> Declaration:
    for s in range(seed, seed + 50):
        d = random_303(random.Random(s))
        if sum(len(c.lines) for c in d.clients) >= minimum:
            return d
    raise AssertionError("no generated 303 with enough lines")


def test_all_granted_echoes_everything() -> None:
    """A valid 303: every client and line echoed, each line granted in full with 0200."""
    d = decl_with_lines(1)
    answer = answer_records(check(d))
    assert answer.retourcodes == ("0200",)
    assert answer.total_granted == answer.total_submitted
    assert [c.bsn for c in answer.clients] == [c.bsn for c in d.clients]
    assert all(ln.retourcodes == ("0200",) for ln in answer.lines)
    assert answer.header.bericht_code == "433"  # the retour code is the declaration's code + 1


def test_duplicate_reference_rejects_that_line() -> None:
    """TR314 (8021) on one line: that line granted 0 with 8021, the others in full; totals balance."""
    d = decl_with_lines(3)
    first = d.clients[0].lines[0]
    last_client = d.clients[-1]
    dup = replace(last_client.lines[-1], reference=first.reference)
    d = replace(
        d, clients=(*d.clients[:-1], replace(last_client, lines=(*last_client.lines[:-1], dup))), total=None
    )
    c = check(d)
    assert [e.code for e in c.verdict.errors] == ["TR314"]
    answer = answer_records(c)
    rejected = [ln for ln in answer.lines if ln.retourcodes != ("0200",)]
    assert len(rejected) == 1
    assert rejected[0].retourcodes == ("8021",)
    assert rejected[0].granted == (0, "D")


def test_client_error_rejects_that_client() -> None:
    """CS002 on one client: its lines granted 0 and not assessed (0233), the client carries 0001.

    A 2.x retour echoes everything, so the provider's failing BSN comes back too: the 304 is schema-valid
    and passes its own retour rules (LG001-LG004); CS002 on the echoed BSN is the only finding.
    """
    d = decl_with_lines(5)
    d = replace(d, clients=(replace(d.clients[0], bsn="999900007"), *d.clients[1:]))
    out = build_answer(check(d), default_registry(), message_id="RET1", today=DAY)
    assert out is not None
    v = Validator().check(out, "out.xml", today=DAY)
    assert [(e.code, e.path) for e in v.verdict.errors] == [("CS002", "/Bericht/Clienten/Client[1]/Bsn")]
    answer = v.message
    assert isinstance(answer, Answer2x)
    assert answer.retourcodes == ("0200",)
    assert answer.clients[0].retourcodes == ("0001",)
    assert all(ln.granted == (0, "D") and ln.retourcodes == ("0233",) for ln in answer.clients[0].lines)


def test_header_error_rejects_whole_message() -> None:
    """A wrong total (TR358, a Header-level 0001 in 2.x): header 0001, every line 0 and not assessed."""
    d = replace(decl_with_lines(5), total=(1, "D"))
    out = build_answer(check(d), default_registry(), message_id="RET1", today=DAY)
    assert out is not None
    v = Validator().check(out, "out.xml", today=DAY)
    # The echoed submitted total is the provider's wrong one: LG001 on it is the only finding.
    assert [e.code for e in v.verdict.errors] == ["LG001"]
    answer = v.message
    assert isinstance(answer, Answer2x)
    assert answer.retourcodes == ("0001",)
    assert all(ln.granted == (0, "D") and ln.retourcodes == ("0233",) for ln in answer.lines)
    assert answer.total_granted == (0, "D")


@settings(max_examples=60)
@given(seed=st.integers(0, 2**32 - 1), family=st.sampled_from(["ijw", "iwmo"]), invoice=st.booleans())
def test_generated_303s_get_valid_304s(seed: int, family: str, invoice: bool) -> None:
    """Any generated 303 (declaration or invoice, both families) gets a 304 that passes all 304 rules."""
    d = random_303(random.Random(seed), family=family, invoice=invoice)  # type: ignore[arg-type]
    answer = answer_records(check(d))
    assert answer.invoice == invoice
    assert len(answer.lines) == sum(len(c.lines) for c in d.clients)
