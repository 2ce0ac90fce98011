"""Conflicting duplicates (TR056, retourcode 9056): the same (Afzender, BerichtCode, Identificatie) with other
content is refused, never billed, and never mistaken for a redelivery, in every generation and adapter
of the embedded default (the HTTP side is in tests/security/test_http_hardening.py)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.outbox import FileOutbox, Ledger
from gateway.pipeline import ConflictingDuplicate, Environment, content_digest, process, refuse_duplicate
from gateway.testing.builders import Client, render
from tests.helpers import BASE, LINE_A, TODAY, validator
from tests.outbox.test_outbox import outcome_with_billing

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "inbox"


def environment() -> Environment:
    return Environment(validator(), TODAY)


def changed(data: bytes) -> bytes:
    """The same message with other bytes but the same key: a comment after an XML message, a day later
    on a JW321's DAGTEKENING."""
    if data.startswith(b"<"):
        return data + b"<!-- sent again, changed -->\n"
    assert b"20170210" in data
    return data.replace(b"20170210", b"20170211", 1)


def test_conflict_raises_and_writes_nothing(tmp_path: Path) -> None:
    """The outbox refuses a known key with another digest: nothing appended, nothing counted."""
    outbox = FileOutbox(tmp_path / "out", Ledger(tmp_path / "l.sqlite"))
    first = outcome_with_billing("C1")
    assert outbox.write(first)
    before = (tmp_path / "out" / "billing.jsonl").read_bytes()
    with pytest.raises(ConflictingDuplicate) as raised:
        outbox.write(replace(first, digest="0" * 32))
    assert "C1" not in str(raised.value)  # the exception names no identifier
    assert not outbox.write(first)  # the same content again: a redelivery
    assert (tmp_path / "out" / "billing.jsonl").read_bytes() == before
    assert (outbox.report.messages, outbox.report.duplicates) == (2, 1)
    outbox.close()


def test_ledger_written_before_digests_still_de_duplicates(tmp_path: Path) -> None:
    """A ledger from before digests were kept is migrated; its keys count as redeliveries (no digest to
    compare), so an upgrade bills nothing twice."""
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE handled (sender TEXT NOT NULL, code TEXT NOT NULL, ident TEXT NOT NULL, "
        "handled_at TEXT NOT NULL, PRIMARY KEY (sender, code, ident));"
        "INSERT INTO handled VALUES ('12345678', '490', 'C2', '2026-01-01T00:00:00');"
    )
    db.commit()
    db.close()
    ledger = Ledger(path)
    assert ledger.lookup(("12345678", "490", "C2")) == (True, None)
    outbox = FileOutbox(tmp_path / "out", ledger)
    assert not outbox.write(outcome_with_billing("C2"))
    assert outbox.write(outcome_with_billing("C3"))
    assert ledger.lookup(("12345678", "490", "C3")) == (True, outcome_with_billing("C3").digest)
    outbox.close()


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.iterdir()))
def test_every_generation_answers_a_conflict_with_9056(name: str) -> None:
    """3.2, 2.x and JW321: the refusal is invalid with exactly TR056/9056 at the identification, bills
    nothing, and its answer is a valid message of the answer type that carries 9056 and grants nothing."""
    data = (EXAMPLES / name).read_bytes()
    env = environment()
    original = process(data, name, env)
    assert original.verdict.valid
    refused = refuse_duplicate(changed(data), name, env)
    assert refused.refused_duplicate
    assert refused.dedup_key == original.dedup_key
    assert refused.digest != original.digest
    assert [(e.code, e.retourcode) for e in refused.verdict.errors] == [("TR056", "9056")]
    path = refused.verdict.errors[0].path or ""
    assert path.endswith(("/Identificatie", "/DeclarantFactuurNummer", "/IDENTIFICATIE_BERICHT"))
    assert refused.minimised.billing == ()
    assert refused.answer is not None
    assert refused.answer != original.answer
    answer = env.validator.check(refused.answer, "answer", today=TODAY)
    assert answer.verdict.valid, answer.verdict.errors
    assert b"9056" in refused.answer


def test_digest_is_of_the_bytes() -> None:
    """The digest tells content apart: one changed byte, another digest; the same bytes, the same."""
    data = render(BASE)
    assert content_digest(data) == content_digest(bytes(data))
    assert content_digest(data) != content_digest(changed(data))
    assert len(content_digest(data)) == 32


def test_process_job_refuses_a_conflict_and_stays_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``process`` over an inbox holding a message and a conflicting copy: the copy is refused with a 9056
    answer of its own, billing holds the first message once; a second run bills nothing and refuses the
    copy again."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    first = render(replace(BASE, message_id="C4"))
    second = render(replace(BASE, message_id="C4", clients=(Client("999900006", (LINE_A,)),)))
    (inbox / "a.xml").write_bytes(first)
    (inbox / "b.xml").write_bytes(second)
    monkeypatch.setenv("JWMO_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "out"
    for run in (1, 2):
        status = main(["process", str(inbox), "--out", str(out), "--workers", "1"])
        summary = capsys.readouterr().out
        assert status == 1  # one message was not valid
        assert "1 refused as conflicting duplicate(s)" in summary
        report = json.loads((out / "report.json").read_text())
        assert (report["conflicts"], report["by_code"].get("TR056")) == (1, 1)
        assert report["duplicates"] == (0 if run == 1 else 1)
    billing = [json.loads(line) for line in (out / "billing.jsonl").read_text().splitlines()]
    assert len(billing) == first.count(b"<jw323:Prestatie>")
    assert {b["message_key"] for b in billing} == {"12345678:490:C4"}
    answers = sorted((out / "retour").glob("*.xml"))
    assert len(answers) == 2
    assert sum(b"<jw325:RetourCode>9056</jw325:RetourCode>" in a.read_bytes() for a in answers) == 1
