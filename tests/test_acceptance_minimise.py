"""Issue acceptance: ``jwmo-gateway minimise --json`` yields exactly the decision tables' outcome.

Generated JW321 files covering every line class, judicial zorgtypes and opt-outs, plus 3.2 and 2.x
messages with GGZ and sheltered-housing lines, go through the real command (a subprocess) with an opt-out
register filled through ``jwmo-gateway optout add``. The expected billing values are computed here from
legacy-formats.md D.2 / C.3 / C.6 and minimisation.md section 6, independently of the policy engine, and
the whole output is searched for the detailed diagnosis codes.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from filters.codetables import load_tables
from gateway.testing.builders import Client, Line, random_declaration, render
from gateway.testing.builders_2x import random_303, render_303
from gateway.testing.builders_ei import EiDeclaration, random_ei_declaration, render_ei
from tests.helpers import BASE

JUDICIAL = {"110": "101", "111": "101", "115": "101", "116": "101", "117": "101",
            "206": "202", "210": "202", "211": "202", "212": "202"}  # fmt: skip
CLASS_BY_GROUP = {
    **dict.fromkeys(["110", "111", "112"], "diagnostiek"),
    **dict.fromkeys(["120", "121", "122"], "crisis"),
    **dict.fromkeys(["130", "131"], "behandeling-kort"),
    **dict.fromkeys([str(n) for n in range(140, 148)] + ["150", "151", "152"], "other"),
    **dict.fromkeys(["901", "902", "903", "904", "905"], "basis"),
    "000": "neutral",
}
MAIN_GROUPS = {f"{n:03d}": f"HG{n:02d}" for n in range(1, 15)}
KEY = "acceptance-test-hmac-key-0123456789"


def line_class(prestatiecode: str) -> str:
    zorgtype, group = prestatiecode[:3], prestatiecode[9:]
    return "crisis" if zorgtype in ("301", "302") else CLASS_BY_GROUP[group]


def main_group_in(prestatiecode: str, dsm4: str | None) -> str | None:
    if dsm4:
        group = load_tables(()).dsm4_group(dsm4)
        return group if group.startswith("HG") else None
    return MAIN_GROUPS.get(prestatiecode[3:6])


def expected(prestatiecode: str, declaratiecode: str, dsm4: str | None, optout: bool) -> dict[str, object]:
    """D.2: the billing values of one JW321 line."""
    cls = line_class(prestatiecode)
    zorgtype = JUDICIAL.get(prestatiecode[:3], prestatiecode[:3])
    restricted = cls == "other" and optout
    group = main_group_in(prestatiecode, dsm4) if cls == "other" and not optout else None
    triplet2 = next((t for t, hg in MAIN_GROUPS.items() if hg == group), "000")
    productgroep = "000" if restricted else prestatiecode[9:]
    return {
        "dbc_prestatiecode": zorgtype + triplet2 + "000" + productgroep,
        "diagnosis_main_group": group,
        "restricted": restricted,
        "product_code": None if restricted else declaratiecode,
        "special_category": True,
    }


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def jw321_files() -> Iterator[EiDeclaration]:
    for seed in range(40):
        yield replace(random_ei_declaration(random.Random(seed)), message_id=f"ACC{seed:04d}")


def write_inbox(inbox: Path, files: list[EiDeclaration]) -> set[tuple[str, str]]:
    """The JW321 files plus 3.2/2.x GGZ and sheltered-housing messages; returns the opt-outs to register."""
    rng = random.Random(7)
    optouts: set[tuple[str, str]] = set()
    for i, decl in enumerate(files):
        (inbox / f"jw321-{i:03d}.txt").write_bytes(render_ei(decl))
        optouts |= {(c.bsn, decl.sender_agb) for c in decl.clients if rng.random() < 0.4}
    period = BASE.clients[0].lines[0].period
    ggz = Line("G1", 5001, "54", "54001", period, 2, "04", 9000, 18000)  # youth GGZ
    kids = Line("G2", 5002, "53", "53A01", period, 1, "04", 5000, 5000)  # paediatrics
    (inbox / "jw323.xml").write_bytes(render(replace(BASE, clients=(Client("999900006", (ggz, kids)),))))
    wmo = random_declaration(random.Random(3), family="iwmo")
    sheltered = replace(wmo.clients[0].lines[0], category="15", code="15B01")  # beschermd wonen
    (inbox / "wmo323.xml").write_bytes(
        render(replace(wmo, clients=(replace(wmo.clients[0], lines=(sheltered,)),), total=None))
    )
    d2x = random_303(random.Random(5))
    ggz_2x = replace(d2x.clients[0].lines[0], category="52")  # specialised GGZ, 2.x
    (inbox / "jw303.xml").write_bytes(
        render_303(replace(d2x, clients=(replace(d2x.clients[0], lines=(ggz_2x,)),), total=None))
    )
    return optouts


def check_jw321(
    files: list[EiDeclaration], by_source: dict[str, dict[str, Any]], optouts: set[tuple[str, str]]
) -> None:
    """Every JW321 line's billing values equal the decision table's; every class and case is covered."""
    seen_classes: set[str] = set()
    judicial = restricted = 0
    for i, decl in enumerate(files):
        billing = {b["reference"]: b for b in by_source[f"jw321-{i:03d}.txt"]["billing"]}
        for client in decl.clients:
            opted = (client.bsn, decl.sender_agb) in optouts
            for line in client.lines:
                want = expected(line.prestatiecode, line.declaratiecode, line.dsm4, opted)
                assert {k: billing[line.reference][k] for k in want} == want, (i, line.reference)
                seen_classes.add(line_class(line.prestatiecode))
                judicial += line.prestatiecode[:3] in JUDICIAL
                restricted += bool(want["restricted"])
    assert seen_classes >= {"basis", "diagnostiek", "crisis", "behandeling-kort", "other"}
    assert judicial > 0
    assert restricted > 0


def check_no_diagnosis_codes(files: list[EiDeclaration], stdout: str, out: list[dict[str, Any]]) -> None:
    """Dotted DSM codes appear nowhere; the DSM field of every filtered 04 record is blank, no 98 records."""
    dsm_codes = {line.dsm4 for decl in files for line in decl.lines if line.dsm4}
    assert any("." in code for code in dsm_codes)
    for code in dsm_codes:
        if "." in code:  # short undotted codes (e.g. 311) also occur as digits of amounts: checked below
            assert code not in stdout
    for o in out:
        if o["message_type"] == "JW321":
            for record in o["filtered"].split("\r\n"):
                if record.startswith("04"):
                    assert record[112:122] == " " * 10
                assert not record.startswith("98")  # comment records (free text) are dropped


@pytest.mark.slow
def test_minimise_cli_follows_the_decision_tables(tmp_path: Path) -> None:
    """Every line's billing record is the decision table's outcome; no detailed diagnosis code anywhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWMO_")}
    env.update({"JWMO_DATA_DIR": str(tmp_path / "data"), "JWMO_HMAC_KEY": KEY})
    inbox = tmp_path / "in"
    inbox.mkdir()
    files = list(jw321_files())
    optouts = write_inbox(inbox, files)
    for bsn, agb in sorted(optouts):
        added = cli(["optout", "add", "--bsn", bsn, "--agb", agb, "--from", "2014-01-01"], env)
        assert added.returncode == 0, added.stderr
    result = cli(["minimise", "--json", "--workers", "1", str(inbox)], env)
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(files) + 3
    assert all(o["valid"] for o in out)
    by_source = {Path(o["source"]).name: o for o in out}
    check_jw321(files, by_source, optouts)
    for name in ("jw323.xml", "wmo323.xml", "jw303.xml"):  # GGZ, paediatrics, sheltered housing tagged
        assert by_source[name]["billing"]
        assert all(b["special_category"] for b in by_source[name]["billing"])
    check_no_diagnosis_codes(files, result.stdout, out)
