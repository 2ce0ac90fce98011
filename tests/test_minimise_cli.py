"""``jwmo-gateway minimise``: output per interfaces.md and clarifications 10/16; options and stores."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from filters.policy import default_policy
from filters.products import parse_products
from gateway.billing import record_problems, signed_total
from gateway.cli import main
from gateway.minimise import Minimiser, default_pipeline_step, pipeline_step
from gateway.pipeline import Environment, process
from gateway.results import Finding, Stage, Verdict
from gateway.retour.plan import plan_answer
from gateway.stores.optouts import MemoryOptouts, SqliteOptoutRegister
from gateway.stores.restricted import SqliteRestrictedStore
from gateway.testing.builders import Client, random_declaration, render
from tests.helpers import BASE, BSN_1, LINE_A, LINE_B, TODAY, validator

KEY = "minimise-cli-test-key-0123456789"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
KEYS = {"source", "message_type", "valid", "stage", "errors", "billing", "filtered", "audit", "restricted"}
PRODUCTS = """
table_version = "cli-test"
[[product]]
municipality = "0384"
category = "45"
code = "45D01"
reveals_disorder = true
neutral_code = "45N01"
"""


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data directory and key for every test."""
    data = tmp_path / "data"
    monkeypatch.setenv("JWMO_DATA_DIR", str(data))
    monkeypatch.setenv("JWMO_HMAC_KEY", KEY)
    monkeypatch.delenv("JWMO_POLICY", raising=False)
    return data


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict[str, Any]], str]:
    code = main(["minimise", "--json", "--workers", "1", *args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def disorder_message(tmp_path: Path) -> Path:
    """BASE with client 1's first line on the disorder-naming code 45D01 of the test table."""
    message = replace(BASE, clients=(Client(BSN_1, (replace(LINE_A, code="45D01"), LINE_B)), BASE.clients[1]))
    return write(tmp_path / "disorder.xml", render(message))


def products(tmp_path: Path) -> str:
    path = tmp_path / "products.toml"
    path.write_text(PRODUCTS, encoding="utf-8")
    return str(path)


def optouts(tmp_path: Path) -> str:
    path = tmp_path / "optouts.sqlite3"
    with SqliteOptoutRegister(path, KEY.encode()) as register:
        register.add(BSN_1, BASE.sender, date(2025, 1, 1), actor="test")
    return str(path)


class TestOutputShape:
    def test_valid_message(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A valid 323: the validate keys plus billing, filtered, audit, restricted; records per contract."""
        code, (obj,), err = run([str(EXAMPLES / "3.2" / "JW323.xml")], capsys)
        assert (code, err) == (0, "")
        assert set(obj) == KEYS
        assert obj["valid"] is True
        assert obj["stage"] is None
        assert obj["restricted"] is False
        assert obj["audit"] == []
        assert all(record_problems(r) == [] for r in obj["billing"])
        assert obj["billing"][0]["declaration_period"] == {"start": "2025-09-01", "end": "2025-09-30"}
        assert isinstance(obj["billing"][0]["amount_cents"], int)
        total = obj["billing"][0]
        assert total["message_type"] == "JW323"

    def test_filtered_validates_again(self, capsys: pytest.CaptureFixture[str]) -> None:
        """``filtered`` is the message re-serialised from the parsed tree; it passes the validator again."""
        _, (obj,), _ = run([str(EXAMPLES / "3.2" / "WMO323.xml")], capsys)
        filtered = obj["filtered"]
        assert filtered.startswith('<?xml version="1.0" encoding="UTF-8"?>')
        again = validator().check(filtered.encode(), "f.xml", today=date.today())
        assert again.verdict.valid
        assert again.verdict.message_type == "WMO323"

    def test_comments_and_pis_not_in_filtered(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Comments and processing instructions never reach the filtered message."""
        data = render(BASE).replace(b"<jw323:Header>", b"<!-- Jansen F90.0 --><?note x?><jw323:Header>", 1)
        _, (obj,), _ = run([str(write(tmp_path / "c.xml", data))], capsys)
        assert obj["valid"] is True
        assert "Jansen" not in obj["filtered"]
        assert "<?note" not in obj["filtered"]

    def test_transport_and_schema_failures(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Clar. 16: invalid messages carry billing [], filtered null, audit [] and the stage/errors."""
        bad_xml = write(tmp_path / "a.xml", b"<not-closed")
        code, objs, _ = run([str(bad_xml), str(EXAMPLES / "invalid" / "WMO323-not-xsd-valid.xml")], capsys)
        assert code == 1
        for obj, stage in zip(objs, ["transport", "schema"], strict=True):
            assert set(obj) == KEYS
            assert obj["stage"] == stage
            assert (obj["billing"], obj["filtered"], obj["audit"], obj["restricted"]) == ([], None, [], False)

    def test_whole_message_rejection_bills_nothing(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Clar. 10: a declaration-level error (TR358) rejects the whole message: no billing."""
        code, (obj,), _ = run([str(EXAMPLES / "invalid" / "JW323-wrong-total.xml")], capsys)
        assert code == 1
        assert obj["stage"] == "rules"
        assert [e["code"] for e in obj["errors"]] == ["TR358"]
        assert obj["billing"] == []
        assert obj["filtered"] is None

    def test_partly_rejected_message_bills_granted_lines(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Clar. 10: lines with a Prestatie-level finding are left out; the others are billed; not valid."""
        late = replace(LINE_B, period=(date(2025, 10, 1), date(2025, 10, 31)))  # TR319 (9319) on one line
        message = replace(BASE, message_date=date(2025, 11, 3), declaration_date=date(2025, 11, 3))
        message = replace(message, clients=(Client(BSN_1, (LINE_A, late)), BASE.clients[1]))
        code, (obj,), _ = run([str(write(tmp_path / "p.xml", render(message)))], capsys)
        assert code == 1
        assert obj["valid"] is False
        assert [e["code"] for e in obj["errors"]] == ["TR319"]
        assert [r["reference"] for r in obj["billing"]] == ["R1", "R3", "R4"]
        assert obj["filtered"] is None

    def test_billing_follows_the_answer_plan(self) -> None:
        """Whatever a rule finding rejects, billing holds exactly the lines the 325 grants."""
        checked = validator().check(render(BASE), "b.xml", today=TODAY)
        minimiser = Minimiser(default_policy())
        p2 = "/Bericht/Declaratie/Clienten/Client[2]"
        findings = {
            "line": (Finding("TR346", "9346", f"{p2}/Prestaties/Prestatie[1]/IngediendBedrag/Bedrag", "m"),),
            "client": (Finding("X", "9999", f"{p2}/Bsn", "m"),),
            "level2": (Finding("CS337", "0001", f"{p2}/Prestaties/Prestatie[1]/ProductPeriode", "m"),),
            "header": (Finding("TR135", "8848", "/Bericht/Header/BerichtIdentificatie/Dagtekening", "m"),),
        }
        for errors in findings.values():
            verdict = Verdict("b.xml", "JW323", False, Stage.RULES, errors)
            result = minimiser.minimise(checked._replace(verdict=verdict))
            plan = plan_answer(verdict)
            assert plan is not None
            granted = [
                line.reference
                for c in BASE.clients
                for i, line in enumerate(c.lines)
                if not plan.rejected_as_a_whole and plan.line(BASE.clients.index(c), i).granted
            ]
            assert [r["reference"] for r in result.billing] == granted
        line_only = minimiser.minimise(
            checked._replace(verdict=Verdict("b.xml", "JW323", False, Stage.RULES, findings["line"]))
        )
        assert [r["reference"] for r in line_only.billing] == ["R1", "R2", "R4"]

    def test_answer_bills_nothing(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A 325 is minimised to billing [] with its filtered text (it goes back to the provider)."""
        code, (obj,), _ = run([str(EXAMPLES / "3.2" / "JW325.xml")], capsys)
        assert code == 0
        assert obj["billing"] == []
        assert obj["filtered"].startswith("<?xml")

    def test_json_line_equals_to_json(self) -> None:
        """The fast JSON line is exactly json.dumps of the result object."""
        result = Minimiser(default_policy()).minimise(validator().check(render(BASE), "b.xml", today=TODAY))
        assert result.json_line() == json.dumps(result.to_json(), ensure_ascii=False)
        assert signed_total(result.billing) == 5000 + 24000 + 1200 - 2500


class TestOptouts:
    def test_optout_restricts_disorder_line(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """With --optouts and --products, the opted-out disorder line is restricted everywhere."""
        path = disorder_message(tmp_path)
        code, (obj,), _ = run(
            ["--products", products(tmp_path), "--optouts", optouts(tmp_path), str(path)], capsys
        )
        assert code == 0
        assert obj["restricted"] is True
        record = obj["billing"][0]
        assert record["restricted"] is True
        assert record["product_code"] is None
        assert record["tariff_cents"] is None
        assert "45D01" not in json.dumps(obj)
        assert "45N01" in obj["filtered"]
        assert {a["action"] for a in obj["audit"]} == {"restrict", "neutralise"}

    def test_default_register_in_data_dir(
        self, tmp_path: Path, environment: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without --optouts the register in the data directory is used when it exists."""
        environment.mkdir(parents=True)
        with SqliteOptoutRegister(environment / "optouts.sqlite3", KEY.encode()) as register:
            register.add(BSN_1, BASE.sender, date(2025, 1, 1), actor="test")
        _, (obj,), _ = run(["--products", products(tmp_path), str(disorder_message(tmp_path))], capsys)
        assert obj["restricted"] is True

    def test_no_register_no_optout(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Without any register nothing is restricted and nothing is created."""
        _, (obj,), _ = run(["--products", products(tmp_path), str(disorder_message(tmp_path))], capsys)
        assert obj["restricted"] is False
        assert obj["billing"][0]["product_code"] == "45D01"

    def test_restricted_store_written_only_when_asked(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--restricted-db stores the original of each restricted line (and only then)."""
        store_path = tmp_path / "restricted.sqlite3"
        args = [
            "--products",
            products(tmp_path),
            "--optouts",
            optouts(tmp_path),
            str(disorder_message(tmp_path)),
        ]
        run(args, capsys)
        assert not store_path.exists()
        run(["--restricted-db", str(store_path), *args], capsys)
        with SqliteRestrictedStore(store_path) as store:
            original = store.get(BASE.sender, BASE.number, "R1", actor="adviser", purpose="test")
            assert original is not None
            assert original.fields["product_code"] == "45D01"
            assert original.fields["client_bsn"] == BSN_1
            assert "45D01" in original.fragment
            assert [r.action for r in store.access_log()] == ["store", "read"]

    def test_wrong_key_is_a_usage_error(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A register made with another key is refused before any message is read (exit 2)."""
        register = optouts(tmp_path)
        monkeypatch.setenv("JWMO_HMAC_KEY", "some-other-key-0123456789abcdef")
        code = main(["minimise", "--optouts", register, str(EXAMPLES / "3.2" / "JW323.xml")])
        out, err = capsys.readouterr()
        assert code == 2
        assert out == ""
        assert "does not match" in err

    def test_missing_register_is_a_usage_error(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An explicit --optouts that does not exist is refused."""
        code = main(
            ["minimise", "--optouts", str(tmp_path / "absent.db"), str(EXAMPLES / "3.2" / "JW323.xml")]
        )
        assert code == 2
        assert "does not exist" in capsys.readouterr().err


class TestPolicyOptions:
    def test_broken_policy_names_the_rule(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A broken --policy is exit 2 with the rule and problem on standard error."""
        policy = tmp_path / "p.toml"
        policy.write_text('policy_version = "x"\n[[rule]]\nid = "oops"\naction = "keep"\nfield = "colour"\n')
        code = main(["minimise", "--policy", str(policy), str(EXAMPLES / "3.2" / "JW323.xml")])
        out, err = capsys.readouterr()
        assert (code, out) == (2, "")
        assert 'rule "oops" (#1)' in err
        assert 'unknown field "colour"' in err

    def test_policy_from_environment(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """JWMO_POLICY selects the policy; here one that keeps only the reference."""
        policy = tmp_path / "p.toml"
        policy.write_text('policy_version = "x"\n[[rule]]\nid = "r"\naction = "keep"\nfield = "reference"\n')
        monkeypatch.setenv("JWMO_POLICY", str(policy))
        _, (obj,), _ = run([str(EXAMPLES / "3.2" / "JW323.xml")], capsys)
        assert obj["billing"][0]["reference"] == "EX-0001"
        assert obj["billing"][0]["client_bsn"] is None

    def test_pseudonymising_policy_generates_key(
        self,
        tmp_path: Path,
        environment: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """A pseudonymising policy without JWMO_HMAC_KEY gets a generated key (warned on stderr only)."""
        monkeypatch.delenv("JWMO_HMAC_KEY")
        policy = tmp_path / "p.toml"
        policy.write_text(
            'policy_version = "x"\n[[rule]]\nid = "p"\naction = "pseudonymise"\nfield = "client_bsn"\n'
            'target = "billing"\n'
        )
        code, (obj,), err = run(["--policy", str(policy), str(EXAMPLES / "3.2" / "JW323.xml")], capsys)
        assert code == 0
        assert len(obj["billing"][0]["client_bsn"]) == 64
        assert "hmac_key_generated" in err
        assert (environment / "hmac.key").is_file()

    def test_broken_products(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A broken --products table is exit 2 naming the entry."""
        path = tmp_path / "t.toml"
        path.write_text('table_version = "x"\n[[product]]\nmunicipality = "1"\n')
        assert main(["minimise", "--products", str(path), str(EXAMPLES / "3.2" / "JW323.xml")]) == 2
        assert "product #1" in capsys.readouterr().err


class TestBatch:
    def test_human_output(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Without --json: a line per message and a summary."""
        code = main(
            [
                "minimise",
                str(EXAMPLES / "3.2" / "JW323.xml"),
                str(EXAMPLES / "invalid" / "JW323-wrong-total.xml"),
            ]
        )
        lines = capsys.readouterr().out.splitlines()
        assert code == 1
        assert lines[0].endswith("JW323 valid; 4 billing record(s), 0 restricted, 0 audit entries")
        assert "INVALID (rules) TR358/0001" in lines[1]
        assert lines[-1] == "2 message(s): 1 valid, 1 invalid; 4 billing record(s), 0 restricted"

    def test_workers_keep_input_order(self, tmp_path: Path) -> None:
        """With worker processes (a directory above the pool threshold) output stays in input order."""
        for i in range(18):
            message = random_declaration(random.Random(i))
            if i == 5:
                message = replace(message, total=(10**9, "D"))
            (tmp_path / f"{i:03d}.xml").write_bytes(render(message))
        done = subprocess.run(
            [sys.executable, "-m", "gateway", "minimise", "--json", "--workers", "2", str(tmp_path)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        objs = [json.loads(line) for line in done.stdout.splitlines()]
        assert done.returncode == 1
        assert [Path(o["source"]).name for o in objs] == [f"{i:03d}.xml" for i in range(18)]
        assert [o["valid"] for o in objs].count(False) == 1
        assert objs[5]["billing"] == []
        assert all(o["billing"] for i, o in enumerate(objs) if i != 5)


class TestPipelineStep:
    def test_step_in_the_pipeline(self, tmp_path: Path) -> None:
        """The pipeline step restricts via Environment.optout and hands originals to the restricted side."""
        register = MemoryOptouts()
        register.add(BSN_1, BASE.sender, date(2025, 1, 1))
        step = pipeline_step(Minimiser(default_policy(), parse_products(PRODUCTS)))
        env = Environment(validator(), TODAY, step, register.is_active)
        outcome = process(disorder_message(tmp_path).read_bytes(), "d.xml", env)
        minimised = outcome.minimised
        assert minimised.billing[0]["restricted"] is True
        assert minimised.billing[0]["product_code"] is None
        assert minimised.restricted[0]["original"]["product_code"] == "45D01"
        assert minimised.restricted[0]["rules"] == ["optout-disorder-restrict"]
        assert minimised.filtered is None  # no pipeline output carries the filtered message ...
        assert [a["action"] for a in minimised.audit] == ["restrict", "neutralise"]
        # ... it is rendered on request (minimise --json), without the withheld code
        minimiser = Minimiser(default_policy(), parse_products(PRODUCTS))
        checked = validator().check(disorder_message(tmp_path).read_bytes(), "d.xml", today=TODAY)
        filtered = minimiser.minimise(checked, register).filtered
        assert filtered is not None
        assert "45D01" not in filtered

    def test_default_step_factory(self) -> None:
        """The module-level factory builds the default policy step (no opt-outs without a register)."""
        step = default_pipeline_step()
        outcome = process(render(BASE), "b.xml", Environment(validator(), TODAY, step))
        assert len(outcome.minimised.billing) == 4
        assert outcome.minimised.restricted == ()
