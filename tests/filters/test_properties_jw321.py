"""Property tests over generated JW321 files (builders_ei.random_ei_declaration) and opt-out sets.

For every generated file, with an opt-out for a random subset of its clients: the filtered file validates
as a JW321 with no 98 record and no DSM-IV code; no DSM-IV code or comment text reaches any output; billing
totals reconcile; a main group appears only on unrestricted lines of class 'other'; restricted lines carry
no declaratiecode or tariff.
"""

from __future__ import annotations

import json
import random
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filters.codetables import load_tables
from filters.policy import default_policy
from gateway.billing import record_problems, signed_total
from gateway.minimise import Minimiser
from gateway.stores.optouts import MemoryOptouts
from gateway.testing.builders_ei import random_ei_declaration, render_ei
from tests.helpers import TODAY, validator

MINIMISER = Minimiser(default_policy())


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), chosen=st.lists(st.booleans(), min_size=4, max_size=4))
def test_generated_jw321(seed: int, chosen: list[bool]) -> None:
    """Every property above holds for a random JW321 and random opt-outs."""
    declaration = random_ei_declaration(random.Random(seed))
    data = render_ei(declaration)
    checked = validator().check(data, "g.txt", today=TODAY)
    assert checked.verdict.valid, [e.code for e in checked.verdict.errors]
    register = MemoryOptouts()
    opted = {c.bsn for c, pick in zip(declaration.clients, chosen, strict=False) if pick}
    for bsn in opted:
        register.add(bsn, declaration.sender_agb, date(2010, 1, 1))
    result = MINIMISER.minimise(checked, register)

    # codes like "296.32" are distinctive; bare ones like "311" could occur inside any number, so the
    # check of the DSM field itself (filtered file, below) covers those
    dsm_codes = {x.dsm4 for c in declaration.clients for x in c.lines if x.dsm4 and len(x.dsm4) >= 5}
    # long comment texts are distinctive; short ones ("2E") may occur anywhere, and the filtered file is
    # checked to hold no 98 record at all
    comments = {
        t.strip() for c in declaration.clients for x in c.lines for t in x.comments if len(t.strip()) >= 8
    }
    output = json.dumps(result.to_json())
    for secret in dsm_codes | comments:
        assert secret not in output

    assert result.filtered is not None
    again = validator().check(result.filtered.encode("ascii"), "f.txt", today=TODAY)
    assert again.verdict.valid, [e.code for e in again.verdict.errors]
    assert "\r\n98" not in result.filtered

    lines = [(c.bsn, x) for c in declaration.clients for x in c.lines]
    tables = load_tables()
    for record, (bsn, line) in zip(result.billing, lines, strict=True):
        assert record_problems(record) == []
        code = line.prestatiecode
        other = tables.line_class(code[0:3], code[9:12]) == "other"
        assert record["restricted"] is (other and bsn in opted)
        if record["restricted"]:
            assert record["product_code"] is None
            assert record["tariff_cents"] is None
            assert record["dbc_prestatiecode"].endswith("000000000")
        if record["diagnosis_main_group"] is not None:
            assert other
            assert bsn not in opted
        assert record["dbc_prestatiecode"][6:9] == "000"
    amounts = [(x.amount if x.amount is not None else x.tariff, x.debit_credit) for _, x in lines]
    assert signed_total(result.billing) == sum(-a if dc == "C" else a for a, dc in amounts)
    assert all(line[112:122].strip() == "" for line in result.filtered.split("\r\n") if line.startswith("04"))
    assert sum(1 for r in result.billing if r["restricted"]) == len(result.restricted_lines)
