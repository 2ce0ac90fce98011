"""The embedded default's outbox and ledger: handed over once, never twice, nothing lost on a restart."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from pathlib import Path

from gateway.outbox import FileOutbox, Ledger
from gateway.pipeline import Environment, Minimised, Outcome, answer_id, dedup_key, process
from gateway.testing.builders import render
from gateway.validation import Validator
from tests.helpers import BASE, TODAY


def outcome_with_billing(seed_ident: str) -> Outcome:
    env = Environment(Validator(), TODAY)
    out = process(render(replace(BASE, message_id=seed_ident)), "m.xml", env)
    billing = ({"reference": "R1", "amount_cents": 5000}, {"reference": "R2", "amount_cents": 24000})
    return replace(
        out, minimised=Minimised(billing=billing, audit=({"rule": "r", "path": "/p", "action": "keep"},))
    )


def test_duplicate_is_not_handed_over_twice(tmp_path: Path) -> None:
    """The same message (same key) twice: billed once, reported as a duplicate."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    outbox = FileOutbox(tmp_path / "out", ledger)
    first = outcome_with_billing("M1")
    assert outbox.write(first)
    assert not outbox.write(first)
    outbox.close()
    lines = (tmp_path / "out" / "billing.jsonl").read_text().splitlines()
    assert len(lines) == 2
    assert {json.loads(x)["message_key"] for x in lines} == {"12345678:490:M1"}
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert (report["messages"], report["duplicates"], report["billing_records"]) == (2, 1, 2)


def test_crash_between_write_and_record_bills_nothing_twice(tmp_path: Path) -> None:
    """Billing written but the ledger not updated (a crash): the next run finds the key in the output."""
    out = tmp_path / "out"
    out.mkdir()
    outcome = outcome_with_billing("M2")
    line = {"message_key": "12345678:490:M2", "reference": "R1"}
    (out / "billing.jsonl").write_text(json.dumps(line) + "\n" + '{"message_key": "torn', encoding="utf-8")
    ledger = Ledger(tmp_path / "ledger.sqlite")
    outbox = FileOutbox(out, ledger)
    assert not outbox.write(outcome)
    outbox.close()
    assert ledger.seen(("12345678", "490", "M2"))


def test_second_run_over_same_inbox_bills_nothing(tmp_path: Path) -> None:
    """A new outbox directory with the same ledger: every message is already handled."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    for run in ("a", "b"):
        outbox = FileOutbox(tmp_path / run, ledger)
        outbox.write(outcome_with_billing("M3"))
        outbox.close()
    assert len((tmp_path / "a" / "billing.jsonl").read_text().splitlines()) == 2
    assert (tmp_path / "b" / "billing.jsonl").read_text() == ""


def test_restricted_file_is_owner_only(tmp_path: Path) -> None:
    """restricted.jsonl is created with owner-only permissions."""
    outbox = FileOutbox(tmp_path / "out", Ledger(tmp_path / "l.sqlite"))
    outbox.close()
    mode = stat.S_IMODE(os.stat(tmp_path / "out" / "restricted.jsonl").st_mode)
    assert mode == 0o600


def test_answer_written_under_stable_id(tmp_path: Path) -> None:
    """The answer file is named after the deterministic answer id of the message key."""
    outbox = FileOutbox(tmp_path / "out", Ledger(tmp_path / "l.sqlite"))
    outcome = outcome_with_billing("M4")
    outbox.write(outcome)
    outbox.close()
    assert outcome.answer is not None
    assert (
        tmp_path / "out" / "retour" / f"{answer_id(outcome.dedup_key)}.xml"
    ).read_bytes() == outcome.answer
    assert len(answer_id(outcome.dedup_key)) == 12
    assert answer_id(outcome.dedup_key) == answer_id(outcome.dedup_key)


def test_every_declaration_family_has_a_message_key() -> None:
    """3.2, 2.x and JW321 messages are keyed by (sender, BerichtCode, identification), not a content hash."""
    examples = Path(__file__).resolve().parents[2] / "examples"
    expected = {
        "3.2/JW323.xml": ("12345678", "490", "EX2025100601"),
        "2.1/JW303D.xml": None,  # (AGB, 432, DeclarantFactuurNummer)
        "ei/JW321.txt": ("94060117", "434", "VB2017000123"),
    }
    for name, key in expected.items():
        data = (examples / name).read_bytes()
        checked = Validator().check(data, name, today=TODAY)
        found = dedup_key(checked, data)
        assert found[0]
        assert found[1] in {"490", "432", "434"}
        if key is not None:
            assert found == key
