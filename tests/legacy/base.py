"""Hand-built, rule-valid 2.x base messages (also the content of ``examples/2.1``) and check helpers."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from gateway.results import Verdict
from gateway.testing.builders_2x import (
    Answer,
    Client,
    Declaration,
    Line,
    answer_304_for,
    render_303,
    render_304,
)
from tests.helpers import TODAY, validator

BSN_1, BSN_2 = "999900006", "999900018"
PERIOD = (date(2018, 1, 15), date(2018, 2, 25))

# Client 1: the line of the A.8 example (weeks, unit 21) and a time-independent line (81) without
# ToewijzingNummer and ProductCode. Client 2: etmalen, a credit of an earlier line, and a euro line.
LINE_1 = Line("P2018-0001", "45", PERIOD, 6, "21", 36000, allocation=4711, code="45A04", tariff=6000)
LINE_2 = Line("P2018-0002", "46", (date(2018, 2, 1), date(2018, 2, 1)), 1, "81", 25000, tariff=25000)
LINE_3 = Line("P2018-0003", "43", PERIOD, 42, "14", 504000, allocation=4712, code="43A01", tariff=12000)
LINE_4 = Line(
    "P2018-0004",
    "43",
    (date(2017, 12, 1), date(2017, 12, 31)),
    3,
    "14",
    36000,
    "C",
    previous_reference="P2017-0107",
    allocation=4712,
    code="43A01",
    tariff=12000,
)
LINE_5 = Line("P2018-0005", "45", (date(2018, 2, 1), date(2018, 2, 25)), 2500, "83", 2500, code="45A10")

JW303D = Declaration(
    family="ijw",
    invoice=False,
    sender="12345678",
    receiver="0363",
    number="D2018000042",
    invoice_date=date(2018, 3, 5),
    period=PERIOD,
    clients=(
        Client(BSN_1, date(2009, 4, 1), "2", (LINE_1, LINE_2)),
        Client(BSN_2, date(2011, 9, 1), "1", (LINE_3, LINE_4, LINE_5), birth_date_use="2"),
    ),
)
JW303F = replace(JW303D, invoice=True, number="F2018000043")

_WMO_CATEGORIES = {"45": "02", "46": "07", "43": "01"}


def _to_wmo(d: Declaration) -> Declaration:
    """The same content as an iWmo message: Wmo categories and codes, adult clients."""

    def line(ln: Line) -> Line:
        category = _WMO_CATEGORIES[ln.category]
        code = None if ln.code is None else category + ln.code[2:]
        return replace(ln, category=category, code=code)

    births = (date(1948, 6, 12), date(1961, 1, 1))
    return replace(
        d,
        family="iwmo",
        sender="87654321",
        receiver="0599",
        clients=tuple(
            replace(c, birth_date=b, lines=tuple(line(ln) for ln in c.lines))
            for c, b in zip(d.clients, births, strict=True)
        ),
    )


WMO303D = _to_wmo(JW303D)
WMO303F = _to_wmo(JW303F)

# A.8's partial approval (30000 of 36000) and one line not granted; an invoice is granted line by line.
JW304 = answer_304_for(
    JW303D,
    granted={"P2018-0001": 30000, "P2018-0002": 0},
    retour_id="R2018000042",
    retour_date=date(2018, 3, 19),
)
WMO304 = answer_304_for(
    WMO303F, granted={"P2018-0002": 0}, retour_id="R2018000043", retour_date=date(2018, 3, 20)
)

EXAMPLES: dict[str, Declaration | Answer] = {
    "JW303D": JW303D,
    "JW303F": JW303F,
    "JW304": JW304,
    "WMO303D": WMO303D,
    "WMO303F": WMO303F,
    "WMO304": WMO304,
}


def render(message: Declaration | Answer) -> bytes:
    return render_303(message) if isinstance(message, Declaration) else render_304(message)


def check(message: Declaration | Answer | bytes, *, today: date = TODAY) -> Verdict:
    """Render (unless already bytes) and validate one 2.x message."""
    data = message if isinstance(message, bytes) else render(message)
    return validator().validate(data, "msg.xml", today=today)


def findings(verdict: Verdict) -> list[tuple[str, str | None, str | None]]:
    """The (code, retourcode, path) of every error, sorted."""
    return sorted((e.code, e.retourcode, e.path) for e in verdict.errors)
