"""XML attacks (security.md §1, checklist items 1-8, 10-13, 16): each refused with its stable code, fast,
in bounded memory, without touching the file system or the network, through the validator and over HTTP.

Every attack is first run through the validation core (the oracle: stage ``transport`` or ``schema``, the
exact code, under a second, nothing echoed), then posted to the HTTP intake (``200`` with the same verdict,
nothing handed over, no canary in the answer). A loopback listener counts every connection an attack could
make; a canary file stands in for a server secret.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.pipeline import process
from gateway.results import Stage, Verdict
from gateway.testing.builders import render
from gateway.validation import Validator
from tests.helpers import BASE, TODAY, validator
from tests.security.common import (
    CANARY_BSN,
    CANARY_DIAG,
    CANARY_NAME,
    environment,
    leaks,
    planted_declaration,
)
from tests.security.conftest import CanaryListener
from tests.security.tally import record
from tests.service.test_http import XML, config_for, outbox_files, run, serving
from tests.test_transport import billion_laughs, feed_fifo_when_opened, quadratic_blowup

PROJECT = Path(__file__).resolve().parents[2]
ROOT = b"<jw323:Bericht"
AFZENDER = b"<jw323:Afzender>12345678</jw323:Afzender>"
BSN = b"<jw323:Bsn>999900006</jw323:Bsn>"
MESSAGE_NS = b"http://www.istandaarden.nl/ijw/3_2/jw323/schema"
BASIS_NS = b"http://www.istandaarden.nl/ijw/3_2/basisschema/schema"
FILE_CANARY = "CANARY-FILE-5d1e"  # the content of a server file an attack would read
SMUGGLED = "65656055"  # the value a loaded DTD or entity would put into Afzender
LIMIT_25_MIB = 26_214_400
ELEVEN_MIB = 11 * 2**20


def valid() -> bytes:
    return render(BASE)


def with_prolog(prolog: bytes, data: bytes | None = None) -> bytes:
    data = valid() if data is None else data
    at = data.index(ROOT)
    return data[:at] + prolog + b"\r\n" + data[at:]


def edit(old: bytes, new: bytes, data: bytes | None = None) -> bytes:
    data = valid() if data is None else data
    assert old in data
    return data.replace(old, new, 1)


@dataclass(frozen=True)
class Attack:
    category: str
    name: str
    build: Callable[[Path, CanaryListener], bytes]
    stage: Stage
    code: str


def _secret_uri(tmp: Path) -> bytes:
    secret = tmp / "secret.txt"
    secret.write_text(FILE_CANARY, encoding="utf-8")
    return secret.as_uri().encode()


def _local_dtd(tmp: Path) -> bytes:
    dtd = tmp / "smuggle.dtd"
    dtd.write_text(f'<!ENTITY afz "{SMUGGLED}">', encoding="utf-8")
    return str(dtd).encode()


def _using_afz(data: bytes) -> bytes:
    return edit(AFZENDER, b"<jw323:Afzender>&afz;</jw323:Afzender>", data)


def _namespaces(count: int) -> bytes:
    declarations = b" ".join(b'xmlns:p%d="urn:example:flood:%d"' % (k, k) for k in range(count))
    return edit(ROOT + b" ", ROOT + b" " + declarations + b" ")


def _attributes(count: int) -> bytes:
    attributes = b" ".join(b'a%d="1"' % k for k in range(count))
    return edit(b"<jw323:Declaratie>", b"<jw323:Declaratie " + attributes + b">")


def _prefix_swap() -> bytes:
    """The root in the message namespace, its children bound to the basisschema namespace."""
    data = valid()
    data = data.replace(b'xmlns:jw323="' + MESSAGE_NS, b'xmlns:jw323="' + BASIS_NS, 1)
    data = data.replace(b'xmlns:ijw="' + BASIS_NS, b'xmlns:ijw="' + MESSAGE_NS, 1)
    return data.replace(b"<jw323:Bericht ", b"<ijw:Bericht ", 1).replace(
        b"</jw323:Bericht>", b"</ijw:Bericht>"
    )


T, S = Stage.TRANSPORT, Stage.SCHEMA

ATTACKS: tuple[Attack, ...] = (
    # entity expansion (§1 #4, #5, #19, #20; checklist 3, 4)
    Attack("entities", "billion-laughs", lambda t, c: billion_laughs(), T, "DOCTYPE"),
    Attack("entities", "quadratic-2k", lambda t, c: quadratic_blowup(2_000), T, "DOCTYPE"),
    Attack("entities", "quadratic-50k", lambda t, c: quadratic_blowup(50_000), T, "DOCTYPE"),
    Attack("entities", "bare-doctype", lambda t, c: with_prolog(b"<!DOCTYPE jw323:Bericht>"), T, "DOCTYPE"),
    Attack(
        "entities",
        "afzender-smuggled-by-internal-entity",
        lambda t, c: _using_afz(with_prolog(b'<!DOCTYPE jw323:Bericht [<!ENTITY afz "65656055">]>')),
        T,
        "DOCTYPE",
    ),
    # external entities and DTDs (§1 #1-#3; checklist 1, 2)
    Attack(
        "external",
        "xxe-file-into-bsn",
        lambda t, c: edit(
            BSN,
            b"<jw323:Bsn>&x;</jw323:Bsn>",
            with_prolog(b'<!DOCTYPE jw323:Bericht [<!ENTITY x SYSTEM "' + _secret_uri(t) + b'">]>'),
        ),
        T,
        "DOCTYPE",
    ),
    Attack(
        "external",
        "parameter-entity-file",
        lambda t, c: with_prolog(
            b'<!DOCTYPE jw323:Bericht [<!ENTITY % p SYSTEM "' + _secret_uri(t) + b'"> %p;]>'
        ),
        T,
        "DOCTYPE",
    ),
    Attack(
        "external",
        "external-dtd-local-file",
        lambda t, c: _using_afz(with_prolog(b'<!DOCTYPE jw323:Bericht SYSTEM "' + _local_dtd(t) + b'">')),
        T,
        "DOCTYPE",
    ),
    Attack(
        "external",
        "xxe-http-general-entity",
        lambda t, c: _using_afz(
            with_prolog(b'<!DOCTYPE jw323:Bericht [<!ENTITY afz SYSTEM "' + c.url("e") + b'">]>')
        ),
        T,
        "DOCTYPE",
    ),
    Attack(
        "external",
        "xxe-http-parameter-entity",
        lambda t, c: with_prolog(
            b'<!DOCTYPE jw323:Bericht [<!ENTITY % p SYSTEM "' + c.url("p") + b'"> %p;]>'
        ),
        T,
        "DOCTYPE",
    ),
    Attack(
        "external",
        "external-dtd-http",
        lambda t, c: _using_afz(with_prolog(b'<!DOCTYPE jw323:Bericht SYSTEM "' + c.url("d.dtd") + b'">')),
        T,
        "DOCTYPE",
    ),
    Attack(
        "external",
        "public-dtd-http",
        lambda t, c: with_prolog(
            b'<!DOCTYPE jw323:Bericht PUBLIC "-//X//DTD Y//EN" "' + c.url("p.dtd") + b'">'
        ),
        T,
        "DOCTYPE",
    ),
    # the body read as a locator (§1 #7; checklist 6)
    Attack("locator", "file-uri", lambda t, c: (t / "JW323.xml").as_uri().encode(), T, "NOT_WELL_FORMED"),
    Attack("locator", "relative-name", lambda t, c: b"JW323.xml", T, "NOT_WELL_FORMED"),
    Attack("locator", "http-url", lambda t, c: c.url("x"), T, "NOT_WELL_FORMED"),
    Attack("locator", "empty", lambda t, c: b"", T, "NOT_WELL_FORMED"),
    # nesting (§1 #9; checklist 10)
    Attack("nesting", "depth-257", lambda t, c: b"<a>" * 257 + b"</a>" * 257, T, "DEPTH"),
    Attack(
        "nesting",
        "depth-2049-in-message",
        lambda t, c: edit(AFZENDER, AFZENDER + b"<jw323:X>" * 2049 + b"</jw323:X>" * 2049),
        T,
        "DEPTH",
    ),
    Attack("nesting", "depth-1e6", lambda t, c: b"<a>" * 10**6 + b"</a>" * 10**6, T, "DEPTH"),
    # huge text, attributes, names (§1 #10-#13; checklist 10)
    Attack(
        "size",
        "text-11MiB",
        lambda t, c: edit(b">DN0001<", b">" + b"1" * ELEVEN_MIB + b"<"),
        T,
        "LIMIT",
    ),
    Attack(
        "size",
        "attribute-11MiB",
        lambda t, c: edit(b"<jw323:Declaratie>", b'<jw323:Declaratie a="' + b"x" * ELEVEN_MIB + b'">'),
        T,
        "LIMIT",
    ),
    Attack("size", "one-million-attributes", lambda t, c: _attributes(1_000_000), T, "LIMIT"),
    Attack(
        "size",
        "name-60k",
        lambda t, c: edit(AFZENDER, AFZENDER + b"<jw323:" + b"N" * 60_000 + b"/>"),
        T,
        "LIMIT",
    ),
    # namespace floods (§1 #13)
    Attack("namespaces", "50k-declarations-on-root", lambda t, c: _namespaces(50_000), T, "NAMESPACES"),
    Attack("namespaces", "33-declarations", lambda t, c: _namespaces(31), T, "NAMESPACES"),
    # namespace confusion (§1 #23; checklist 11)
    Attack(
        "confusion",
        "release-3_1",
        lambda t, c: valid().replace(b"/ijw/3_2/jw323/", b"/ijw/3_1/jw323/"),
        T,
        "UNKNOWN_TYPE",
    ),
    Attack(
        "confusion",
        "no-namespace",
        lambda t, c: render(BASE, prefixed=False).replace(b' xmlns="' + MESSAGE_NS + b'"', b""),
        T,
        "UNKNOWN_TYPE",
    ),
    Attack("confusion", "prefix-swap", lambda t, c: _prefix_swap(), S, "XSD"),
    # XInclude (§1 #8; checklist 7)
    Attack(
        "xinclude",
        "xinclude-secret-file",
        lambda t, c: edit(
            AFZENDER,
            AFZENDER
            + b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" parse="text" href="'
            + _secret_uri(t)
            + b'"/>',
        ),
        S,
        "XSD",
    ),
    # encodings (§1 #15-#17; checklist 8)
    Attack(
        "encoding", "utf16-bom", lambda t, c: b"\xff\xfe" + valid().decode().encode("utf-16-le"), T, "BOM"
    ),
    Attack(
        "encoding",
        "iso-8859-1",
        lambda t, c: valid().replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"', 1),
        T,
        "ENCODING",
    ),
    Attack("encoding", "overlong-utf8", lambda t, c: edit(b">DN0001<", b">DN\xc0\xaf01<"), T, "ENCODING"),
)

FORBIDDEN = (FILE_CANARY, SMUGGLED, CANARY_BSN, CANARY_NAME)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def verdict_text(verdict: Verdict) -> str:
    return json.dumps(verdict.to_json(), ensure_ascii=False)


def assert_refused(verdict: Verdict, attack: Attack) -> None:
    assert (verdict.valid, verdict.stage) == (False, attack.stage)
    assert [e.code for e in verdict.errors][:1] == [attack.code]
    if attack.stage is Stage.TRANSPORT:
        assert verdict.message_type is None
        assert all(e.path is None and e.retourcode is None for e in verdict.errors)
    text = verdict_text(verdict)
    assert not [f for f in FORBIDDEN if f in text], "a planted value is echoed"


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: f"{a.category}-{a.name}")
def test_attack_is_refused_by_the_core_fast_and_offline(
    attack: Attack, tmp_path: Path, canary_listener: CanaryListener
) -> None:
    """Each attack gets its stage and code within a second, in bounded memory, with no connection made."""
    data = attack.build(tmp_path, canary_listener)
    before = peak_rss_mib()
    started = time.perf_counter()
    verdict = validator().validate(data, "attack.xml", today=TODAY)
    elapsed = time.perf_counter() - started
    assert_refused(verdict, attack)
    assert elapsed < 1.0, f"{elapsed:.2f} s"
    if attack.category == "entities":
        assert peak_rss_mib() - before < 50  # checklist 4: RSS delta < 50 MB
    time.sleep(0.02)  # a connection in flight, if any, is counted
    assert canary_listener.connections == 0
    record(f"attack.xml.{attack.category}")


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: f"{a.category}-{a.name}")
def test_attack_over_http_gets_its_verdict_and_nothing_is_handed_over(
    attack: Attack, tmp_path: Path, canary_listener: CanaryListener
) -> None:
    """Posted to the intake: 200 with the same verdict, no output stored, no planted value in the answer."""
    data = attack.build(tmp_path, canary_listener)
    data_dir = tmp_path / "data"

    async def scenario() -> None:
        async with serving(config_for(data_dir, max_bytes=LIMIT_25_MIB)) as client:
            response = await client.post("/v1/declarations", content=data, headers=XML)
            assert response.status_code == 200
            (result,) = response.json()["results"]
            assert (result["valid"], result["stage"]) == (False, attack.stage.value)
            assert result["errors"][0]["code"] == attack.code
            assert not [f for f in FORBIDDEN if f in response.text], "a planted value is echoed"

    run(scenario)
    assert outbox_files(data_dir) == []  # unreadable or schema-invalid: no answer, no billing, no audit
    assert canary_listener.connections == 0
    record(f"attack.http.xml.{attack.category}")


def test_the_listener_counts_connections(canary_listener: CanaryListener) -> None:
    """Control: a real connection to the canary listener is counted (so zero connections means something)."""
    with socket.create_connection(("127.0.0.1", canary_listener.port), timeout=2) as sock:
        sock.sendall(b"GET /probe HTTP/1.0\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.0 200")
    assert canary_listener.connections == 1


# --------------------------------------------------------------------------------------------------
# Network namespace: the same attacks where no network exists at all (checklist 2)


UNSHARE = shutil.which("unshare")


@pytest.mark.skipif(UNSHARE is None, reason="unshare(1) is not available")
def test_network_attacks_give_the_same_verdicts_without_any_network(tmp_path: Path) -> None:
    """In a fresh network namespace (``unshare -n``) the external-resource attacks get the same codes:
    the verdict never depended on a fetch succeeding or failing."""
    assert UNSHARE is not None
    probe = subprocess.run([UNSHARE, "-n", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("unshare -n is not permitted here")
    listener = CanaryListener(port=9)  # nothing listens there, and in the namespace nothing exists at all
    cases = {a.name: a.build(tmp_path, listener) for a in ATTACKS if a.category in ("external", "locator")}
    (tmp_path / "cases.json").write_text(json.dumps({k: v.decode("latin-1") for k, v in cases.items()}))
    script = textwrap.dedent(
        """
        import json, sys
        from datetime import date
        from gateway.validation import Validator
        cases = json.load(open(sys.argv[1]))
        v = Validator()
        out = {k: [e.code for e in v.validate(d.encode("latin-1"), "x", today=date(2026, 1, 15)).errors]
               for k, d in cases.items()}
        print(json.dumps(out))
        """
    )
    done = subprocess.run(
        [UNSHARE, "-n", sys.executable, "-c", script, str(tmp_path / "cases.json")],
        capture_output=True,
        cwd=PROJECT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    isolated = json.loads(done.stdout)
    expected = {a.name: [a.code] for a in ATTACKS if a.name in cases}
    assert isolated == expected
    record("attack.xml.no_network_namespace", len(cases))


# --------------------------------------------------------------------------------------------------
# The body is never a locator: no file opened (checklist 6)


def test_body_naming_a_file_never_opens_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bodies naming a FIFO (by name and by file: URI) are refused and the FIFO is never opened."""
    fifo = tmp_path / "JW323.xml"
    os.mkfifo(fifo)
    monkeypatch.chdir(tmp_path)
    for body in (b"JW323.xml", fifo.as_uri().encode(), str(fifo).encode()):

        def attempt(data: bytes = body) -> Verdict:
            return validator().validate(data, "x", today=TODAY)

        opened, verdict = feed_fifo_when_opened(fifo, attempt)
        assert not opened
        assert [e.code for e in verdict.errors] == ["NOT_WELL_FORMED"]


def test_no_python_level_open_of_a_named_file(tmp_path: Path) -> None:
    """An audit hook (in a child process) sees no ``open`` of the files the bodies name."""
    target = tmp_path / "JW323.xml"
    target.write_bytes(valid())
    script = textwrap.dedent(
        """
        import sys
        from datetime import date
        from gateway.validation import Validator
        v = Validator()
        v.validate(sys.argv[1].encode(), "warm-up", today=date(2026, 1, 15))
        opened = []
        sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" else None)
        codes = [v.validate(b, "x", today=date(2026, 1, 15)).errors[0].code
                 for b in (b"JW323.xml", sys.argv[2].encode(), sys.argv[3].encode())]
        print(codes, [p for p in opened if "JW323.xml" in p])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, valid().decode(), target.as_uri(), str(target)],
        capture_output=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode().strip() == "['NOT_WELL_FORMED', 'NOT_WELL_FORMED', 'NOT_WELL_FORMED'] []"


# --------------------------------------------------------------------------------------------------
# Schema hints are ignored (checklist 5)


def test_schema_location_hints_never_replace_the_pinned_schema(
    tmp_path: Path, canary_listener: CanaryListener
) -> None:
    """A permissive attacker XSD named by xsi:schemaLocation / noNamespaceSchemaLocation (file and loopback)
    changes nothing: an invalid message stays invalid, a valid one valid, and nothing is fetched."""
    permissive = tmp_path / "anything.xsd"
    permissive.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="'
        + MESSAGE_NS.decode()
        + '"><xs:element name="Bericht"><xs:complexType><xs:sequence><xs:any processContents="skip" '
        'minOccurs="0" maxOccurs="unbounded"/></xs:sequence></xs:complexType></xs:element></xs:schema>'
    )
    xsi = b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    hints = (
        b'xsi:schemaLocation="' + MESSAGE_NS + b" " + permissive.as_uri().encode() + b'"',
        b'xsi:schemaLocation="' + MESSAGE_NS + b" " + canary_listener.url("s.xsd") + b'"',
        b'xsi:noNamespaceSchemaLocation="' + canary_listener.url("n.xsd") + b'"',
        b'xsi:noNamespaceSchemaLocation="' + permissive.as_uri().encode() + b'"',
    )
    broken = edit(b"<ijw:DebetCredit>D<", b"<ijw:DebetCredit>X<")
    for hint in hints:
        hinted = ROOT + b" " + xsi + b" " + hint + b" "
        assert validator().validate(edit(ROOT + b" ", hinted), "x", today=TODAY).valid
        invalid = validator().validate(edit(ROOT + b" ", hinted, broken), "x", today=TODAY)
        assert (invalid.valid, invalid.stage) == (False, Stage.SCHEMA)
        record("attack.xml.schema_hint")
    assert canary_listener.connections == 0


_DANGEROUS_CALLS = (
    "xmlschema.validate(",
    "xmlschema.is_valid(",
    ".is_valid(",
    ".xinclude(",
    "resolve_entities=True",
    "load_dtd=True",
    "no_network=False",
    "huge_tree=True",
    "dtd_validation=True",
    "import xml.etree",
    "from xml.etree",
    "import xml.dom",
    "import xml.sax\n",
    "pyexpat",
)


def test_no_dangerous_parser_call_in_the_gateway() -> None:
    """Static check (checklists 5, 7, 20): the shipped code never validates against hinted schemas, never
    expands XIncludes or entities, never lifts libxml2's limits and never feeds input to expat."""
    offenders = []
    for path in sorted([*(PROJECT / "gateway").rglob("*.py"), *(PROJECT / "filters").rglob("*.py")]):
        if "testing" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        offenders += [f"{path.relative_to(PROJECT)}: {call}" for call in _DANGEROUS_CALLS if call in text]
    assert offenders == []


# --------------------------------------------------------------------------------------------------
# Structure, values, comments (checklists 11-13, 16)


@pytest.mark.parametrize(
    ("name", "data", "planted"),
    [
        ("duplicate-afzender", edit(AFZENDER, AFZENDER * 2), None),
        ("foreign-element", edit(AFZENDER, AFZENDER + b'<evil:x xmlns:evil="urn:evil">1</evil:x>'), None),
        ("foreign-attribute-on-bsn", edit(BSN, b'<jw323:Bsn evil="999900006">999900006</jw323:Bsn>'), None),
        (
            "xsi-nil-on-bsn",
            edit(
                BSN,
                b'<jw323:Bsn xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/>',
            ),
            None,
        ),
        ("padded-afzender", edit(AFZENDER, b"<jw323:Afzender> 65656055 </jw323:Afzender>"), "65656055"),
        ("ten-digit-bsn", edit(BSN, b"<jw323:Bsn>9999000061</jw323:Bsn>"), "9999000061"),
    ],
)
def test_structural_attacks_are_schema_errors_with_a_path_and_no_value(
    name: str, data: bytes, planted: str | None
) -> None:
    """Duplicates, foreign content, nil and padded values: stage schema, XSD + XPath, the value not echoed."""
    verdict = validator().validate(data, "x", today=TODAY)
    assert (verdict.valid, verdict.stage, verdict.message_type) == (False, Stage.SCHEMA, "JW323")
    assert verdict.errors
    assert all(e.code == "XSD" and e.path and e.path.startswith("/Bericht") for e in verdict.errors)
    if planted is not None:
        assert planted not in verdict_text(verdict)
    record("attack.xml.structure")


def test_default_namespace_form_bills_exactly_like_the_prefixed_form() -> None:
    """The default-namespace form is accepted and minimised to the same billing records (checklist 11)."""
    env = environment()
    prefixed = process(render(BASE), "a.xml", env)
    default = process(render(BASE, prefixed=False, indent=False), "b.xml", env)
    assert prefixed.verdict.valid
    assert default.verdict.valid
    assert default.minimised.billing == prefixed.minimised.billing
    assert len(default.minimised.billing) == 4


def test_comments_and_pis_carrying_personal_data_are_dropped_everywhere() -> None:
    """A valid JW323 with name and diagnosis canaries in comments and PIs is accepted; the canaries are in
    none of its outputs: verdict, answer, billing, filtered message, audit (checklist 13)."""
    data = planted_declaration("S0013")
    assert CANARY_NAME.encode() in data
    assert CANARY_DIAG.encode() in data
    outcome = process(data, "s.xml", environment())
    assert outcome.verdict.valid
    outputs = [
        verdict_text(outcome.verdict),
        (outcome.answer or b"").decode(),
        json.dumps(list(outcome.minimised.billing)),
        (outcome.minimised.filtered or b"").decode(),
        json.dumps(list(outcome.minimised.audit)),
        json.dumps(list(outcome.minimised.restricted)),
    ]
    found = [leaks(text, {"name": CANARY_NAME, "diagnosis": CANARY_DIAG}) for text in outputs]
    assert found == [[]] * len(outputs)
    record("attack.xml.comments_pis")


def test_validator_does_not_depend_on_the_process_wide_state() -> None:
    """Control: a fresh validator gives the same verdicts for the attacks as the shared one."""
    fresh = Validator()
    listener = CanaryListener(port=9)
    for attack in ATTACKS:
        if attack.category in ("entities", "confusion", "encoding"):
            data = attack.build(Path("/nonexistent"), listener)
            assert fresh.validate(data, "x", today=TODAY) == validator().validate(data, "x", today=TODAY)
