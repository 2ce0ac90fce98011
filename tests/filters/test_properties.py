"""Property tests over generated 3.2 declarations and opt-out sets (hypothesis).

Each example: a random valid JW323/WMO323 (builders.random_declaration), some lines switched to product
codes that the test's municipal table marks as naming a disorder, and per client an opt-out that is
active, expired, not yet valid, for another provider, or absent. Properties:

* a restricted line's billing record holds none of its withheld values;
* with an active opt-out on a disorder-naming code, that code is nowhere in billing or the filtered message;
* the filtered message validates;
* audit entries never hold a removed value (nor a BSN);
* billing totals (signed sum of amount_cents) equal the declaration total;
* every billing record follows the contract (allow-list schema), and the fast JSON equals json.dumps;
* BSNs never appear in log events (structlog.testing.capture_logs) or in error messages.

Disorder codes contain a lower-case letter, which no generated value (tokens, ids, numbers) ever does, so
a code found in an output can only come from that line.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from filters.policy import default_policy
from filters.products import parse_products
from gateway.billing import record_problems, signed_total
from gateway.minimise import Minimiser, MinimiseResult
from gateway.stores.optouts import MemoryOptouts, SqliteOptoutRegister
from gateway.stores.restricted import SqliteRestrictedStore
from gateway.testing.builders import (
    Client,
    Declaration,
    declaration_total,
    random_declaration,
    render,
    signed,
)
from tests.helpers import TODAY, validator

MUNICIPALITY = "0384"
OTHER_AGB = "99999999"
# (family, category, code, neutral code or None)
DISORDER: tuple[tuple[str, str, str, str | None], ...] = (
    ("ijw", "45", "45Dy1", "45Nn1"),
    ("ijw", "53", "53Ax1", None),
    ("ijw", "54", "54Xq1", "54Nn2"),
    ("iwmo", "02", "02As1", None),
    ("iwmo", "15", "15Bw1", "15Nn3"),
)
PRODUCTS = parse_products(
    'table_version = "prop"\n'
    + "".join(
        f'[[product]]\nmunicipality = "{MUNICIPALITY}"\ncategory = "{cat}"\ncode = "{code}"\n'
        f"reveals_disorder = true\n" + (f'neutral_code = "{neutral}"\n' if neutral else "")
        for _, cat, code, neutral in DISORDER
    )
)
MINIMISER = Minimiser(default_policy(), PRODUCTS)
OPTOUT_KINDS = ("none", "active", "expired", "future", "other-provider")


@dataclass(frozen=True)
class Scenario:
    message: Declaration
    optouts: tuple[tuple[str, str, date, date | None], ...]  # (bsn, agb, from, until)
    active: frozenset[str]  # BSNs with an opt-out active on the declaration date for the sender

    def register(self) -> MemoryOptouts:
        register = MemoryOptouts()
        for bsn, agb, start, until in self.optouts:
            register.add(bsn, agb, start, until)
        return register


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    family = draw(st.sampled_from(["ijw", "iwmo"]))
    base = random_declaration(
        random.Random(draw(st.integers(0, 2**32 - 1))),
        family=family,  # type: ignore[arg-type]
        clients=draw(st.integers(1, 3)),
        lines_per_client=draw(st.integers(1, 3)),
    )
    codes = [d for d in DISORDER if d[0] == family]
    clients = []
    optouts: list[tuple[str, str, date, date | None]] = []
    active: set[str] = set()
    day = base.declaration_date
    for client in base.clients:
        lines = []
        for line in client.lines:
            if draw(st.booleans()):
                _, category, code, _ = draw(st.sampled_from(codes))
                line = replace(line, category=category, code=code)  # noqa: PLW2901
            lines.append(line)
        clients.append(Client(client.bsn, tuple(lines)))
        kind = draw(st.sampled_from(OPTOUT_KINDS))
        if kind == "active":
            optouts.append((client.bsn, base.sender, day - timedelta(days=draw(st.integers(0, 400))), None))
            active.add(client.bsn)
        elif kind == "expired":
            optouts.append((client.bsn, base.sender, day - timedelta(days=400), day - timedelta(days=1)))
        elif kind == "future":
            optouts.append((client.bsn, base.sender, day + timedelta(days=1), None))
        elif kind == "other-provider":
            optouts.append((client.bsn, OTHER_AGB, day - timedelta(days=30), None))
    message = replace(base, receiver=MUNICIPALITY, clients=tuple(clients))
    return Scenario(message, tuple(optouts), frozenset(active))


def run(s: Scenario) -> MinimiseResult:
    checked = validator().check(render(s.message), "p.xml", today=TODAY)
    assert checked.verdict.valid, [e.code for e in checked.verdict.errors]
    return MINIMISER.minimise(checked, s.register())


def is_disorder(category: str, code: str) -> bool:
    return any(c == category and k == code for _, c, k, _ in DISORDER)


FAST = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])


class TestProperties:
    def test_generator_reaches_restricted_lines(self) -> None:
        """The generator produces restricted lines and unrestricted disorder lines (no vacuous properties)."""
        quiet = settings(max_examples=500, database=None)
        restricted = find(scenarios(), lambda s: run(s).restricted, settings=quiet)
        assert run(restricted).restricted
        plain_disorder = find(
            scenarios(),
            lambda s: any(
                is_disorder(x.category, x.code) and c.bsn not in s.active
                for c in s.message.clients
                for x in c.lines
            ),
            settings=quiet,
        )
        assert not all(r["restricted"] for r in run(plain_disorder).billing)

    @FAST
    @given(scenarios())
    def test_restricted_lines_hold_no_withheld_value(self, s: Scenario) -> None:
        """A restricted line's record holds none of its withheld values; only opt-out lines are restricted."""
        result = run(s)
        lines = [(c.bsn, line) for c in s.message.clients for line in c.lines]
        assert len(result.billing) == len(lines)
        withheld = ("product_code", "tariff_cents", "volume", "unit", "allocation_number")
        for record, (bsn, line) in zip(result.billing, lines, strict=True):
            expected = bsn in s.active and is_disorder(line.category, line.code)
            assert record["restricted"] is expected
            if expected:
                assert all(record[f] is None for f in withheld)
                assert line.code not in json.dumps(record)
        assert result.restricted is any(r["restricted"] for r in result.billing)
        assert len(result.restricted_lines) == sum(1 for r in result.billing if r["restricted"])

    @FAST
    @given(scenarios())
    def test_optout_disorder_code_nowhere_in_outputs(self, s: Scenario) -> None:
        """With an active opt-out on a disorder-naming code, that code is in neither billing nor filtered."""
        result = run(s)
        hidden = {
            line.code
            for c in s.message.clients
            for line in c.lines
            if c.bsn in s.active and is_disorder(line.category, line.code)
        }
        shown = {
            line.code
            for c in s.message.clients
            for line in c.lines
            if not (c.bsn in s.active and is_disorder(line.category, line.code))
        }
        billing_text = json.dumps(result.billing)
        filtered = result.filtered or ""
        for code in hidden - shown:
            assert code not in billing_text
            assert code not in filtered
        for code in shown:
            assert code in filtered  # everything else is forwarded as received

    @FAST
    @given(scenarios())
    def test_filtered_message_validates(self, s: Scenario) -> None:
        """The filtered message passes every check of the validator, as the same message type."""
        result = run(s)
        assert result.filtered is not None
        again = validator().check(result.filtered.encode("utf-8"), "f.xml", today=TODAY)
        assert again.verdict.valid, [e.code for e in again.verdict.errors]
        assert again.verdict.message_type == result.verdict.message_type

    @FAST
    @given(scenarios())
    def test_audit_never_holds_a_value(self, s: Scenario) -> None:
        """Audit entries name rule, path and action only: no product code, tariff or BSN."""
        result = run(s)
        text = json.dumps([a.to_json() for a in result.audit])
        for client in s.message.clients:
            assert client.bsn not in text
            for line in client.lines:
                assert line.code not in text
        assert all(set(a.to_json()) == {"rule", "path", "action"} for a in result.audit)
        assert {a.action for a in result.audit} <= {"restrict", "neutralise"}

    @FAST
    @given(scenarios())
    def test_totals_reconcile(self, s: Scenario) -> None:
        """The signed sum of amount_cents over the billing records equals the declaration total."""
        result = run(s)
        assert signed_total(result.billing) == signed(*declaration_total(s.message))

    @FAST
    @given(scenarios())
    def test_records_follow_the_contract(self, s: Scenario) -> None:
        """Every record has exactly the contract fields and types; fast JSON equals json.dumps."""
        result = run(s)
        for record, text in zip(result.billing, result.billing_lines(), strict=True):
            assert record_problems(record) == []
            assert text == json.dumps(record)
        assert result.json_line() == json.dumps(result.to_json(), ensure_ascii=False)


class TestCanaries:
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(s=scenarios())
    def test_no_bsn_in_logs_or_errors(self, tmp_path: Path, s: Scenario) -> None:
        """BSNs never reach a log event or an error message: register, minimisation, restricted store."""
        key = b"canary-test-key-0123456789abcdef"
        directory = tmp_path / uuid.uuid4().hex  # a fresh register per example
        bsns = [c.bsn for c in s.message.clients]
        with capture_logs() as events:
            register = SqliteOptoutRegister(directory / "optouts.sqlite3", key)
            for bsn, agb, start, until in s.optouts:
                register.add(bsn, agb, start, until=until, source="statement", actor="tester")
            checked = validator().check(render(s.message), "p.xml", today=TODAY)
            result = MINIMISER.minimise(checked, register)
            with SqliteRestrictedStore(directory / "restricted.sqlite3") as store:
                store.put(result.restricted_lines, actor="tester", purpose="test")
            broken = replace(s.message, total=(10**9, "D"))
            invalid = MINIMISER.minimise(validator().check(render(broken), "b.xml", today=TODAY), register)
            for bsn in bsns:
                try:
                    register.add(bsn, "bad-agb", date(2025, 1, 1), actor="tester")
                except ValueError as exc:
                    assert bsn not in str(exc)  # noqa: PT017 - the message is what is tested
            register.close()
        logged = json.dumps(events, default=str)
        errors = json.dumps([e.to_json() for e in invalid.verdict.errors])
        assert not invalid.verdict.valid
        assert invalid.billing == []
        for bsn in bsns:
            assert bsn not in logged
            assert bsn not in errors
            assert bsn not in repr(result)
        assert any(e["event"] == "optout_added" for e in events) or not s.optouts
