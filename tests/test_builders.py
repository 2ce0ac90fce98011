"""Tests of the message builder used by the test suite and the benchmarks (gateway.testing.builders)."""

from __future__ import annotations

import ast
import calendar
import dataclasses
import functools
import random
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.testing import builders
from gateway.testing.builders import (
    BERICHT_CODES,
    PRODUCT_CATEGORIES,
    RETOURCODES,
    UNITS,
    Answer,
    Client,
    Declaration,
    Family,
    Line,
    MessageKind,
    answer_for,
    basis_namespace,
    bsn_is_valid,
    declaration_total,
    message_namespace,
    random_declaration,
    render,
    signed,
)

SCHEMA_ROOT = Path(__file__).resolve().parents[1] / "schemas"
TODAY = date(2026, 1, 15)
FAMILIES: tuple[Family, ...] = ("ijw", "iwmo")
seeds = st.integers(min_value=0, max_value=2**32 - 1)
families = st.sampled_from(FAMILIES)
SETTINGS = settings(max_examples=60, deadline=None)


@functools.cache
def schema(family: Family, kind: str) -> etree.XMLSchema:
    name = f"{'JW' if family == 'ijw' else 'WMO'}{kind}.xsd"
    return etree.XMLSchema(etree.parse(str(SCHEMA_ROOT / family / "3.2" / name)))


def first_error(s: etree.XMLSchema) -> str:
    errors: list[Any] = list(cast("Iterable[Any]", s.error_log))
    return f"{errors[0].type_name} at {errors[0].path}" if errors else "no error"


def lines_of(d: Declaration) -> list[Line]:
    return [line for c in d.clients for line in c.lines]


def eleven_test(bsn: str) -> bool:
    """Independent restatement of CS002 for the assertions."""
    d = [int(ch) for ch in bsn]
    return (
        len(d) == 9
        and (9 * d[0] + 8 * d[1] + 7 * d[2] + 6 * d[3] + 5 * d[4] + 4 * d[5] + 3 * d[6] + 2 * d[7] - d[8])
        % 11
        == 0
    )


def month_end(d: date) -> date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


# --------------------------------------------------------------------------------------------------
# Determinism


@SETTINGS
@given(seed=seeds, family=families)
def test_same_seed_gives_same_declaration_and_bytes(seed: int, family: Family) -> None:
    """Two generators seeded alike produce equal declarations and byte-identical renderings."""
    a = random_declaration(random.Random(seed), family=family)
    b = random_declaration(random.Random(seed), family=family)
    assert a == b
    assert render(a) == render(b)


def test_different_seeds_give_different_messages() -> None:
    """Distinct seeds give distinct messages (the generator really uses the rng)."""
    rendered = {render(random_declaration(random.Random(seed))) for seed in range(50)}
    assert len(rendered) == 50


# --------------------------------------------------------------------------------------------------
# XSD validity under our schemas


@SETTINGS
@given(seed=seeds, family=families, prefixed=st.booleans(), crlf=st.booleans(), indent=st.booleans())
def test_random_declaration_is_valid_under_our_schema(
    seed: int, family: Family, prefixed: bool, crlf: bool, indent: bool
) -> None:
    """Every generated 323 is valid against our JW323/WMO323 schema in every rendering style."""
    d = random_declaration(random.Random(seed), family=family)
    s = schema(family, "323")
    assert s.validate(etree.fromstring(render(d, prefixed=prefixed, crlf=crlf, indent=indent))), first_error(
        s
    )


@SETTINGS
@given(
    seed=seeds,
    family=families,
    reject_share=st.floats(min_value=0.0, max_value=1.0),
    body=st.booleans(),
    xslt=st.sampled_from([None, "1.0.0", "12.3.45"]),
    prefixed=st.booleans(),
)
def test_answer_for_random_declaration_is_valid_under_our_schema(
    *, seed: int, family: Family, reject_share: float, body: bool, xslt: str | None, prefixed: bool
) -> None:
    """A 325 built with answer_for (with or without body, Clienten and XsltVersie) is valid under our
    JW325/WMO325 schema."""
    rng = random.Random(seed)
    d = random_declaration(rng, family=family)
    rejected = {line.reference: ("9340",) for line in lines_of(d) if rng.random() < reject_share}
    a = answer_for(
        d,
        rejected=rejected,
        body=body,
        xslt_version=xslt,
        header_retourcodes=("0200",) if body else ("0001",),
    )
    s = schema(family, "325")
    assert s.validate(etree.fromstring(render(a, prefixed=prefixed))), first_error(s)


@pytest.mark.parametrize("family", FAMILIES)
def test_large_declaration_is_valid(family: Family) -> None:
    """Explicit client and line counts are honoured and a large message stays valid."""
    d = random_declaration(random.Random(7), family=family, clients=200, lines_per_client=4)
    assert len(d.clients) == 200
    assert all(len(c.lines) == 4 for c in d.clients)
    s = schema(family, "323")
    assert s.validate(etree.fromstring(render(d))), first_error(s)


# --------------------------------------------------------------------------------------------------
# In-message business rules


@SETTINGS
@given(seed=seeds, family=families)
def test_bsns_pass_eleven_test_and_are_unique(seed: int, family: Family) -> None:
    """Every Bsn has nine digits, does not start with 0, passes the eleven-test and is unique (CS002)."""
    d = random_declaration(random.Random(seed), family=family)
    bsns = [c.bsn for c in d.clients]
    failing = [i for i, b in enumerate(bsns) if not (b.isdigit() and b[0] != "0" and eleven_test(b))]
    assert not failing, f"clients {failing} have an invalid BSN"
    assert len(set(bsns)) == len(bsns), "a BSN repeats"
    assert all(bsn_is_valid(b) for b in bsns)


@SETTINGS
@given(seed=seeds, family=families)
def test_references_and_keys_are_unique(seed: int, family: Family) -> None:
    """ReferentieNummer unique (TR314), VorigReferentieNummer unique and never a ReferentieNummer of the
    message (TR315/TR316), debit keys unique (TR416)."""
    d = random_declaration(random.Random(seed), family=family)
    lines = lines_of(d)
    refs = [line.reference for line in lines]
    previous = [line.previous_reference for line in lines if line.previous_reference is not None]
    assert len(set(refs)) == len(refs)
    assert len(set(previous)) == len(previous)
    assert not set(previous) & set(refs)
    assert all(1 <= len(r) <= 20 for r in [*refs, *previous])
    keys = [
        (line.period, line.category, line.code, line.allocation) for line in lines if line.debit_credit == "D"
    ]
    assert len(set(keys)) == len(keys)


@SETTINGS
@given(seed=seeds, family=families, today=st.dates(min_value=date(2021, 8, 1), max_value=date(2035, 12, 31)))
def test_dates_follow_the_period_rules(seed: int, family: Family, today: date) -> None:
    """DeclaratiePeriode is one whole month 1-6 months before today (CS340, >= 2021); both dagtekeningen lie
    after its end and not after today (TR137); every ProductPeriode lies in one month (CS337), not after
    the declaration month (TR319), from 2021 (CS100) and within 5 years of DeclaratieDagtekening (TR335)."""
    d = random_declaration(random.Random(seed), family=family, today=today)
    start, end = d.period
    assert start.day == 1
    assert end == month_end(start)
    months_back = (today.year - start.year) * 12 + today.month - start.month
    assert 1 <= months_back <= 6
    assert start >= date(2021, 1, 1)
    assert end < d.declaration_date <= d.message_date <= today
    for line in lines_of(d):
        begin, finish = line.period
        assert begin <= finish
        assert (begin.year, begin.month) == (finish.year, finish.month)
        assert finish <= end
        assert begin >= date(2021, 1, 1)
        assert finish >= d.declaration_date - timedelta(days=5 * 365)


@SETTINGS
@given(seed=seeds, family=families)
def test_lines_follow_the_amount_rules(seed: int, family: Family) -> None:
    """Unit 83 lines have no tariff and amount == volume (CS339, CD087); other units have a tariff and amount
    == volume x tariff (TR346); credits carry a previous reference, debits none (CD060); 0 is debit."""
    d = random_declaration(random.Random(seed), family=family)
    for line in lines_of(d):
        assert line.unit in UNITS
        assert line.category in PRODUCT_CATEGORIES[family]
        assert len(line.code) == 5
        assert line.code.startswith(line.category)
        if line.unit == "83":
            assert line.tariff is None
            assert line.amount == line.volume
        else:
            assert line.tariff is not None
            assert 100 <= line.tariff <= 20_000
            assert 1 <= line.volume <= 40
            assert line.amount == line.volume * line.tariff
        assert (line.previous_reference is not None) == (line.debit_credit == "C")
        assert line.amount > 0 or line.debit_credit == "D"
        assert line.retourcodes == ()


def test_mix_of_units_credits_and_shapes() -> None:
    """Over many seeds every unit occurs, about 15% of lines are credits, and clients (1-3) and lines
    per client (1-4) vary."""
    decls = [random_declaration(random.Random(seed), family=FAMILIES[seed % 2]) for seed in range(400)]
    lines = [line for d in decls for line in lines_of(d)]
    assert set(Counter(line.unit for line in lines)) == set(UNITS)
    credit_share = sum(line.debit_credit == "C" for line in lines) / len(lines)
    assert 0.08 <= credit_share <= 0.22
    assert {len(d.clients) for d in decls} == {1, 2, 3}
    assert {len(c.lines) for d in decls for c in d.clients} == {1, 2, 3, 4}


def test_invalid_arguments_are_refused() -> None:
    """Zero clients or lines, or a today without a whole month after 2021-01-01, raise ValueError."""
    with pytest.raises(ValueError, match="at least one client"):
        random_declaration(random.Random(1), clients=0)
    with pytest.raises(ValueError, match="at least one client"):
        random_declaration(random.Random(1), lines_per_client=0)
    with pytest.raises(ValueError, match="2021"):
        random_declaration(random.Random(1), today=date(2021, 1, 20))


# --------------------------------------------------------------------------------------------------
# Totals


@SETTINGS
@given(seed=seeds, family=families)
def test_total_is_signed_sum_of_lines(seed: int, family: Family) -> None:
    """declaration_total = sum(debit) - sum(credit) with the sign as D/C (TR358), and render writes it."""
    d = random_declaration(random.Random(seed), family=family)
    debit = sum(line.amount for line in lines_of(d) if line.debit_credit == "D")
    credit = sum(line.amount for line in lines_of(d) if line.debit_credit == "C")
    amount, sign = declaration_total(d)
    assert (amount if sign == "D" else -amount) == debit - credit
    assert amount >= 0
    assert sign in {"D", "C"}
    root = etree.fromstring(render(d))
    bns = basis_namespace(family)
    assert root.findtext(f".//{{{bns}}}TotaalBedrag") == str(amount)
    assert root.findtext(f".//{{{bns}}}DebetCredit") == sign


def _line(amount: int, dc: str, ref: str) -> Line:
    return Line(
        ref,
        1000 + len(ref),
        "45",
        "45A01",
        (date(2025, 11, 1), date(2025, 11, 30)),
        amount,
        "83",
        None,
        amount,
        dc,
        "OLD-" + ref if dc == "C" else None,
    )


def test_total_sign_edge_cases() -> None:
    """A net zero total carries D (CS325), a negative one C; an explicit total overrides the computed one."""
    base = random_declaration(random.Random(3))
    zero = dataclasses.replace(
        base, clients=(Client("999900006", (_line(500, "D", "A"), _line(500, "C", "B"))),)
    )
    negative = dataclasses.replace(
        base, clients=(Client("999900006", (_line(200, "D", "A"), _line(700, "C", "B"))),)
    )
    assert declaration_total(zero) == (0, "D")
    assert declaration_total(negative) == (500, "C")
    assert signed(500, "C") == -500
    forced = dataclasses.replace(negative, total=(1, "D"))
    root = etree.fromstring(render(forced))
    assert root.findtext(f".//{{{basis_namespace('ijw')}}}TotaalBedrag") == "1"


@SETTINGS
@given(seed=seeds, family=families, reject_share=st.floats(min_value=0.0, max_value=1.0))
def test_answer_totals_balance(seed: int, family: Family, reject_share: float) -> None:
    """In an answer_for 325 the returned lines sum to submitted minus granted (TR342), only clients with
    rejected lines are returned, and the body code is 8001 exactly when nothing was rejected."""
    rng = random.Random(seed)
    d = random_declaration(rng, family=family)
    rejected = {line.reference: ("9338",) for line in lines_of(d) if rng.random() < reject_share}
    a = answer_for(d, rejected=rejected)
    assert a.body is not None
    returned = [line for c in a.body.clients for line in c.lines]
    assert {line.reference for line in returned} == set(rejected)
    assert all(c.lines for c in a.body.clients)
    assert a.body.total_submitted == declaration_total(d)
    assert signed(*a.body.total_submitted) - signed(*a.body.total_granted) == sum(
        signed(line.amount, line.debit_credit) for line in returned
    )
    assert a.body.retourcodes == (("0200",) if rejected else ("8001",))
    assert (a.sender, a.receiver) == (d.receiver, d.sender)
    assert a.declaration_id == (d.message_id, d.message_date)


# --------------------------------------------------------------------------------------------------
# Rendering


@pytest.mark.parametrize(("family", "kind"), [(f, k) for f in FAMILIES for k in ("323", "325")])
def test_render_header_codes_and_namespaces(family: Family, kind: MessageKind) -> None:
    """BerichtCode is 490/491/484/485 by family and kind, BerichtVersie 3, BerichtSubversie 2, and the root
    is Bericht in the message namespace."""
    d = random_declaration(random.Random(11), family=family)
    message: Declaration | Answer = d if kind == "323" else answer_for(d)
    root = etree.fromstring(render(message))
    ns = message_namespace(family, kind)
    assert root.tag == f"{{{ns}}}Bericht"
    assert root.findtext(f"{{{ns}}}Header/{{{ns}}}BerichtCode") == BERICHT_CODES[family, kind]
    assert root.findtext(f"{{{ns}}}Header/{{{ns}}}BerichtVersie") == "3"
    assert root.findtext(f"{{{ns}}}Header/{{{ns}}}BerichtSubversie") == "2"
    assert {"490", "491", "484", "485"} == set(BERICHT_CODES.values())


def test_render_styles() -> None:
    """The XML declaration comes first without a BOM; crlf selects CR/LF only; indent uses tabs;
    prefixed=False puts the message namespace in the default namespace; both forms mean the same tree."""
    d = random_declaration(random.Random(5))
    crlf = render(d, crlf=True)
    lf = render(d, crlf=False)
    flat = render(d, indent=False, crlf=False)
    plain = render(d, prefixed=False)
    assert crlf.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\r\n<jw323:Bericht ')
    assert lf.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<jw323:Bericht ')
    assert crlf.count(b"\n") == crlf.count(b"\r\n") > 10
    assert b"\r" not in lf
    assert b"\n\t\t<jw323:BerichtCode>490</jw323:BerichtCode>" in lf
    assert flat.count(b"\n") == 2
    assert b"\t" not in flat
    assert plain.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\r\n<Bericht xmlns="')
    assert b"<ijw:Identificatie>" in plain
    shapes = [
        [(el.tag, (el.text or "").strip()) for el in etree.fromstring(x).iter()]
        for x in (crlf, lf, flat, plain)
    ]
    same = all(shape == shapes[0] for shape in shapes)
    assert same, "the rendering styles do not describe the same element tree"


def test_render_escapes_text() -> None:
    """Markup characters in text values are escaped, so the output stays well-formed and round-trips."""
    d = random_declaration(random.Random(8), clients=1, lines_per_client=1)
    odd = dataclasses.replace(d.clients[0].lines[0], reference="A&B<C>")
    d = dataclasses.replace(d, message_id="X&Y", clients=(Client(d.clients[0].bsn, (odd,)),))
    root = etree.fromstring(render(d))
    bns = basis_namespace("ijw")
    assert root.findtext(f".//{{{bns}}}ReferentieNummer") == "A&B<C>"
    assert root.findtext(f".//{{{bns}}}Identificatie") == "X&Y"


def test_retourcodes_only_rendered_in_a_325() -> None:
    """Line and client retourcodes appear in a 325 but never in a 323; an empty answer body clients tuple
    gives no Clienten element."""
    d = random_declaration(random.Random(9), clients=1, lines_per_client=2)
    with_codes = dataclasses.replace(
        d,
        clients=(
            Client(
                d.clients[0].bsn,
                tuple(dataclasses.replace(x, retourcodes=("9340",)) for x in d.clients[0].lines),
                retourcodes=("0200",),
            ),
        ),
    )
    assert b"RetourCode" not in render(with_codes)
    granted = render(answer_for(d))
    assert b"Clienten" not in granted
    assert b"<jw325:RetourCode>8001<" in granted
    assert len(RETOURCODES) == 59
    assert len(set(RETOURCODES)) == 59


def test_module_is_stdlib_only() -> None:
    """The builder module imports only the standard library (no hypothesis, no lxml at import time)."""
    tree = ast.parse(Path(builders.__file__).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert imported
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}
