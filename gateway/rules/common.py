"""Helpers shared by the rule modules: the BSN eleven-test, calendar arithmetic, signed amounts."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

__all__ = ["EARLIEST_DATE", "elfproef", "is_whole_month", "signed", "years_before"]

EARLIEST_DATE = date(2021, 1, 1)  # CS100: 3.x declarations start in 2021
_ONE_DAY = timedelta(days=1)
_DIGIT_OFFSET = 43 * 48  # sum of the weights (9+8+...+2-1) times ord("0")


def elfproef(bsn: str) -> bool:
    """CS002: nine digits d1..d9 with (9*d1 + 8*d2 + ... + 2*d8 - d9) divisible by 11."""
    if len(bsn) != 9 or not bsn.isascii() or not bsn.isdigit():
        return False
    a, b, c, d, e, f, g, h, i = bsn.encode()
    return (9 * a + 8 * b + 7 * c + 6 * d + 5 * e + 4 * f + 3 * g + 2 * h - i - _DIGIT_OFFSET) % 11 == 0


def is_whole_month(start: date, end: date) -> bool:
    """True when start..end is exactly one calendar month."""
    return (
        start.day == 1
        and end.month == start.month
        and end.year == start.year
        and (end == date.max or (end + _ONE_DAY).day == 1)
    )


def signed(amount: int, debit_credit: str) -> int:
    """An amount with its DebetCredit sign applied (credit negative)."""
    return -amount if debit_credit == "C" else amount


@lru_cache(maxsize=1024)
def years_before(d: date, years: int) -> date:
    """The same calendar day ``years`` earlier (29 February falls back to 28 February)."""
    try:
        return d.replace(year=d.year - years)
    except ValueError:
        if d.year - years < 1:
            return date.min
        return d.replace(year=d.year - years, day=28)
