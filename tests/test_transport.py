"""The hardened intake (stage ``transport``): every attack of ``security.md`` §1 gets its stable code.

Each refusal is checked in full: stage ``transport``, the exact code of the table in
``gateway/intake/transport.py``, no message type, no retourcode and no path. Attacks that could read a file
or reach the network use a temporary canary file and a loopback HTTP server started by the test.
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import random
import resource
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.intake.transport import MAX_NAMESPACE_DECLARATIONS, Limits, TransportError, parse_xml
from gateway.results import Stage, Verdict
from gateway.testing.builders import Client, answer_for, random_declaration, render
from gateway.validation import Validator
from tests.helpers import BASE, TODAY, validator

MESSAGE_NS = b"http://www.istandaarden.nl/ijw/3_2/jw323/schema"
ROOT = b"<jw323:Bericht"
AFZENDER = b"<jw323:Afzender>12345678</jw323:Afzender>"
DECL_NUMBER = b"<jw323:DeclaratieNummer>DN0001</jw323:DeclaratieNummer>"
TEN_MIB_PLUS_ONE = 10 * 2**20 + 1


def valid() -> bytes:
    """The hand-built base JW323 (valid: see tests/rules)."""
    return render(BASE)


def with_prolog(prolog: bytes, data: bytes | None = None) -> bytes:
    """Insert ``prolog`` (a DOCTYPE, PI ...) between the XML declaration and the root element."""
    data = valid() if data is None else data
    at = data.index(ROOT)
    return data[:at] + prolog + b"\r\n" + data[at:]


def replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) >= 1
    return data.replace(old, new, 1)


def run(data: bytes, v: Validator | None = None) -> Verdict:
    return (v or validator()).validate(data, "in.xml", today=TODAY)


def assert_transport(verdict: Verdict, code: str) -> None:
    """One transport finding with ``code``; no type, retourcode or path (the message could not be read)."""
    assert verdict.source == "in.xml"
    assert verdict.valid is False
    assert verdict.stage is Stage.TRANSPORT
    assert verdict.message_type is None
    assert [(e.code, e.retourcode, e.path) for e in verdict.errors] == [(code, None, None)]
    assert verdict.errors[0].message


def assert_refused(verdict: Verdict) -> None:
    """Refused at intake with one code-only finding (used where the exact code is pinned by an xfail test)."""
    assert verdict.valid is False
    assert verdict.stage is Stage.TRANSPORT
    assert verdict.message_type is None
    assert len(verdict.errors) == 1
    assert (verdict.errors[0].retourcode, verdict.errors[0].path) == (None, None)


def verdict_text(verdict: Verdict) -> str:
    return json.dumps(verdict.to_json(), ensure_ascii=False)


def test_base_message_is_valid() -> None:
    """Control: the unmutated message passes every stage, so each refusal below is caused by its mutation."""
    verdict = run(valid())
    assert (verdict.valid, verdict.stage, verdict.message_type, verdict.errors) == (True, None, "JW323", ())


# --------------------------------------------------------------------------------------------------
# Byte-order marks and encodings


class TestEncoding:
    @pytest.mark.parametrize(
        "data",
        [
            pytest.param(b"\xef\xbb\xbf" + render(BASE), id="utf8-bom"),
            pytest.param(b"\xff\xfe" + render(BASE).decode().encode("utf-16-le"), id="utf16le-bom"),
            pytest.param(b"\xfe\xff" + render(BASE).decode().encode("utf-16-be"), id="utf16be-bom"),
            pytest.param(
                b"\xef\xbb\xbf" + render(BASE).replace(b"UTF-8", b"ISO-8859-1"), id="utf8-bom-latin1-decl"
            ),
        ],
    )
    def test_byte_order_mark_is_refused(self, data: bytes) -> None:
        """OP192: a byte-order mark (UTF-8, UTF-16 LE/BE) is refused with BOM, whatever follows it."""
        assert_transport(run(data), "BOM")

    @pytest.mark.parametrize("encoding", [b"ISO-8859-1", b"windows-1252", b"US-ASCII", b"UTF-16"])
    def test_declared_non_utf8_encoding_is_refused(self, encoding: bytes) -> None:
        """A message declaring another encoding is ENCODING, even when it would parse in that encoding."""
        data = replace_once(valid(), b'encoding="UTF-8"', b'encoding="' + encoding + b'"')
        assert_transport(run(data), "ENCODING")

    @pytest.mark.parametrize("encoding", [b"ISO-8859-1", b"windows-1252"])
    def test_self_consistent_single_byte_encoding_is_refused(self, encoding: bytes) -> None:
        """Latin-1/cp1252 bytes (a non-ASCII e-acute) that lxml would happily decode are still ENCODING."""
        data = replace_once(valid(), b'encoding="UTF-8"', b'encoding="' + encoding + b'"')
        data = replace_once(data, b">M0001<", b">M\xe9001<")
        # Control: lxml itself accepts the document in the declared encoding.
        plain = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
        assert str(plain.getroottree().docinfo.encoding).upper() == encoding.decode().upper()
        assert_transport(run(data), "ENCODING")

    def test_declaration_hidden_after_padding_is_still_caught(self) -> None:
        """An encoding pseudo-attribute far into the XML declaration is caught after the parse instead."""
        data = replace_once(valid(), b'encoding="UTF-8"', b" " * 300 + b'encoding="ISO-8859-1"')
        data = replace_once(data, b">M0001<", b">M\xe9001<")
        assert_transport(run(data), "ENCODING")

    @pytest.mark.parametrize(
        "bad",
        [
            pytest.param(b"\xff", id="invalid-byte"),
            pytest.param(b"\xe9", id="latin1-byte"),
            pytest.param(b"\xc0\xaf", id="overlong-slash"),
            pytest.param(b"\xe0\x80\xaf", id="overlong-3-byte"),
            pytest.param(b"\xed\xa0\x80", id="surrogate"),
            pytest.param(b"\xf4\x90\x80\x80", id="above-u10ffff"),
            pytest.param(b"\xc3", id="truncated-sequence"),
        ],
    )
    def test_bytes_that_are_not_utf8_are_refused(self, bad: bytes) -> None:
        """Invalid UTF-8 in a text node (incl. overlong forms and surrogates) is ENCODING."""
        data = replace_once(valid(), b">DN0001<", b">DN" + bad + b"01<")
        assert_transport(run(data), "ENCODING")

    @pytest.mark.parametrize(
        "data",
        [
            pytest.param(render(BASE).decode().encode("utf-16-le"), id="utf16le"),
            pytest.param(render(BASE).decode().encode("utf-16-be"), id="utf16be"),
            pytest.param(render(BASE).split(b"\n", 1)[1].decode().encode("utf-16-le"), id="utf16le-no-decl"),
            pytest.param(render(BASE).decode().encode("utf-32-le"), id="utf32le"),
        ],
    )
    def test_utf16_or_utf32_without_bom_is_refused(self, data: bytes) -> None:
        """UTF-16/32 without a byte-order mark (which libxml2 would auto-detect) is ENCODING."""
        assert_transport(run(data), "ENCODING")

    def test_lowercase_utf8_declaration_is_accepted(self) -> None:
        """encoding='utf-8' (any case, single quotes) is UTF-8: the message stays valid."""
        data = replace_once(valid(), b'encoding="UTF-8"', b"encoding='utf-8'")
        assert run(data).valid

    def test_message_without_xml_declaration_is_accepted(self) -> None:
        """The XML declaration is optional (UTF-8 is the default)."""
        data = valid()
        assert run(data[data.index(ROOT) :]).valid


# --------------------------------------------------------------------------------------------------
# DOCTYPE, entities and external resources


@dataclass
class LoopbackServer:
    """An HTTP server on 127.0.0.1 that records every request path."""

    port: int
    hits: list[str] = field(default_factory=list)

    def url(self, name: str) -> bytes:
        return f"http://127.0.0.1:{self.port}/{name}".encode()


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    """A loopback HTTP server on a free port, serving a DTD that would smuggle a value if it were loaded."""
    state = LoopbackServer(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits.append(self.path)
            body = b'<!ENTITY afz "65656055"><!ENTITY % inner "">'
            self.send_response(200)
            self.send_header("Content-Type", "application/xml-dtd")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def fetch_directly(server: LoopbackServer) -> int:
    """Make one real request to the server (proves that it records requests)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", "/probe")
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def feed_fifo_when_opened(fifo: Path, action: Callable[[], Verdict]) -> tuple[bool, Verdict]:
    """Run ``action`` while watching whether anything opens ``fifo`` for reading.

    A reader blocked in open() on a FIFO lets a non-blocking writer open it; without a reader that open fails
    with ENXIO. So a helper thread polls, and if a reader shows up it writes a harmless DTD and closes, which
    unblocks the reader. Returns (whether the FIFO was opened, the action's result).
    """
    opened = threading.Event()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    return
                time.sleep(0.001)
                continue
            opened.set()
            try:
                os.write(fd, b'<!ENTITY afz "65656055">')
            finally:
                os.close(fd)
            return

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        result = action()
    finally:
        stop.set()
        thread.join(timeout=5)
    return opened.is_set(), result


def billion_laughs() -> bytes:
    levels = b"".join(
        b'<!ENTITY lol%d "%s">' % (k, (b"&lol%d;" % (k - 1) if k > 1 else b"&lol;") * 10)
        for k in range(1, 10)
    )
    return b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' + levels + b"]><lolz>&lol9;</lolz>"


def quadratic_blowup(size: int = 50_000) -> bytes:
    return (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "' + b"x" * size + b'">]><r>' + b"&a;" * size + b"</r>"
    )


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class TestDoctype:
    def test_doctype_without_internal_subset_is_refused(self) -> None:
        """A bare <!DOCTYPE jw323:Bericht> on an otherwise valid (and XSD-valid) JW323 is DOCTYPE."""
        assert_transport(run(with_prolog(b"<!DOCTYPE jw323:Bericht>")), "DOCTYPE")

    def test_doctype_without_xml_declaration_is_refused(self) -> None:
        """The DOCTYPE policy does not depend on an XML declaration being present."""
        data = valid()
        assert_transport(run(b"<!DOCTYPE jw323:Bericht>\r\n" + data[data.index(ROOT) :]), "DOCTYPE")

    def test_entity_smuggling_a_value_into_afzender_is_refused(self) -> None:
        """An internal-subset entity that would supply Afzender is refused as DOCTYPE, never expanded."""
        data = with_prolog(b'<!DOCTYPE jw323:Bericht [<!ENTITY afz "65656055">]>')
        data = replace_once(data, AFZENDER, b"<jw323:Afzender>&afz;</jw323:Afzender>")
        verdict = run(data)
        assert_transport(verdict, "DOCTYPE")
        leak = "65656055" in verdict_text(verdict)
        assert not leak, "the planted value appears in the verdict"

    def test_billion_laughs_is_refused_quickly_with_bounded_memory(self) -> None:
        """Billion laughs (10^9 expansions) is refused at intake within a second, in bounded memory."""
        before = peak_rss_mib()
        started = time.perf_counter()
        verdict = run(billion_laughs())
        assert time.perf_counter() - started < 1.0
        assert peak_rss_mib() - before < 200
        assert_refused(verdict)

    def test_quadratic_blowup_is_refused_quickly_with_bounded_memory(self) -> None:
        """A 50k-character entity referenced 50k times (2.5 GB if expanded) is refused at intake, fast."""
        before = peak_rss_mib()
        started = time.perf_counter()
        verdict = run(quadratic_blowup())
        assert time.perf_counter() - started < 1.0
        assert peak_rss_mib() - before < 200
        assert_refused(verdict)

    @pytest.mark.parametrize(
        "data",
        [
            pytest.param(billion_laughs(), id="billion-laughs"),
            pytest.param(quadratic_blowup(), id="quadratic-50k"),
            pytest.param(quadratic_blowup(2_000), id="quadratic-2k"),
        ],
    )
    def test_entity_expansion_bomb_is_reported_as_doctype(self, data: bytes) -> None:
        """An entity-expansion bomb is a message with a DTD and entities: code DOCTYPE, not a size limit."""
        assert_transport(run(data), "DOCTYPE")

    @pytest.mark.parametrize("where", ["afzender", "bsn"])
    def test_external_file_entity_never_reaches_the_verdict(self, tmp_path: Path, where: str) -> None:
        """XXE: a SYSTEM entity naming a local secret file is refused (DOCTYPE); the secret never appears."""
        secret = tmp_path / "secret.txt"
        secret.write_text("CANARY-SECRET-7f3a9c", encoding="utf-8")
        data = with_prolog(
            b'<!DOCTYPE jw323:Bericht [<!ENTITY x SYSTEM "' + secret.as_uri().encode() + b'">]>'
        )
        if where == "afzender":
            data = replace_once(data, AFZENDER, b"<jw323:Afzender>&x;</jw323:Afzender>")
        else:
            data = replace_once(data, b"<jw323:Bsn>999900006<", b"<jw323:Bsn>&x;<")
        verdict = run(data)
        assert_transport(verdict, "DOCTYPE")
        leak = "CANARY-SECRET" in verdict_text(verdict)
        assert not leak, "the planted value appears in the verdict"

    def test_external_dtd_from_local_file_is_refused(self, tmp_path: Path) -> None:
        """A DOCTYPE naming a local DTD by SYSTEM identifier (its entity used in Afzender) is DOCTYPE."""
        dtd = tmp_path / "smuggle.dtd"
        dtd.write_text('<!ENTITY afz "65656055">', encoding="utf-8")
        for system_id in (dtd.as_uri().encode(), str(dtd).encode()):
            data = with_prolog(b'<!DOCTYPE jw323:Bericht SYSTEM "' + system_id + b'">')
            data = replace_once(data, AFZENDER, b"<jw323:Afzender>&afz;</jw323:Afzender>")
            verdict = run(data)
            assert_transport(verdict, "DOCTYPE")
            leak = "65656055" in verdict_text(verdict)
            assert not leak, "the planted value appears in the verdict"

    def test_file_named_by_system_identifier_is_never_opened(self, tmp_path: Path) -> None:
        """The intake never touches the file system: a FIFO named as external DTD is never opened."""
        fifo = tmp_path / "watch.dtd"
        os.mkfifo(fifo)
        data = with_prolog(b'<!DOCTYPE jw323:Bericht SYSTEM "' + str(fifo).encode() + b'">')
        opened, verdict = feed_fifo_when_opened(fifo, lambda: run(data))
        assert_transport(verdict, "DOCTYPE")
        assert not opened

    @pytest.mark.parametrize(
        "kind", ["system-garbage-file", "parameter-entity-file", "system-http", "pe-http"]
    )
    def test_doctype_code_does_not_depend_on_what_it_names(self, tmp_path: Path, kind: str) -> None:
        """Whatever a DOCTYPE refers to (existing file, URL, parameter entity), the code is DOCTYPE."""
        garbage = tmp_path / "not-a-dtd.txt"
        garbage.write_text("just some server file\n", encoding="utf-8")
        url = b"http://127.0.0.1:9/x.dtd"
        prolog = {
            "system-garbage-file": b'<!DOCTYPE jw323:Bericht SYSTEM "' + str(garbage).encode() + b'">',
            "parameter-entity-file": b'<!DOCTYPE jw323:Bericht [<!ENTITY % p SYSTEM "'
            + garbage.as_uri().encode()
            + b'"> %p;]>',
            "system-http": b'<!DOCTYPE jw323:Bericht SYSTEM "' + url + b'">',
            "pe-http": b'<!DOCTYPE jw323:Bericht [<!ENTITY % p SYSTEM "' + url + b'"> %p;]>',
        }[kind]
        assert_transport(run(with_prolog(prolog)), "DOCTYPE")

    def test_missing_external_dtd_is_doctype(self, tmp_path: Path) -> None:
        """A SYSTEM identifier naming no existing file is DOCTYPE."""
        data = with_prolog(
            b'<!DOCTYPE jw323:Bericht SYSTEM "' + str(tmp_path / "absent.dtd").encode() + b'">'
        )
        assert_transport(run(data), "DOCTYPE")


class TestNetwork:
    def test_server_records_requests(self, loopback: LoopbackServer) -> None:
        """Control: the loopback server records a real request (so 'zero hits' means something)."""
        assert fetch_directly(loopback) == 200
        assert loopback.hits == ["/probe"]

    @pytest.mark.parametrize("variant", ["system-dtd", "public-dtd", "general-entity", "parameter-entity"])
    def test_external_dtd_or_entity_over_http_makes_no_request(
        self, loopback: LoopbackServer, variant: str
    ) -> None:
        """XXE over HTTP (DTD, general or parameter entity on loopback) is refused and never fetched."""
        url = loopback.url(variant)
        prolog = {
            "system-dtd": b'<!DOCTYPE jw323:Bericht SYSTEM "' + url + b'">',
            "public-dtd": b'<!DOCTYPE jw323:Bericht PUBLIC "-//X//DTD Y//EN" "' + url + b'">',
            "general-entity": b'<!DOCTYPE jw323:Bericht [<!ENTITY afz SYSTEM "' + url + b'">]>',
            "parameter-entity": b'<!DOCTYPE jw323:Bericht [<!ENTITY % p SYSTEM "' + url + b'"> %p;]>',
        }[variant]
        data = with_prolog(prolog)
        if variant == "general-entity":
            data = replace_once(data, AFZENDER, b"<jw323:Afzender>&afz;</jw323:Afzender>")
        verdict = run(data)
        assert_refused(verdict)
        leak = "65656055" in verdict_text(verdict)
        assert not leak, "the planted value appears in the verdict"
        time.sleep(0.05)  # let a request in flight (if any) be recorded
        assert loopback.hits == []

    def test_general_external_entity_over_http_is_doctype(self, loopback: LoopbackServer) -> None:
        """A general external entity over HTTP is reported as DOCTYPE (it is never resolved)."""
        data = with_prolog(b'<!DOCTYPE jw323:Bericht [<!ENTITY afz SYSTEM "' + loopback.url("e") + b'">]>')
        data = replace_once(data, AFZENDER, b"<jw323:Afzender>&afz;</jw323:Afzender>")
        assert_transport(run(data), "DOCTYPE")
        assert loopback.hits == []

    def test_schema_location_hints_and_stylesheet_pi_are_ignored(self, loopback: LoopbackServer) -> None:
        """xsi:schemaLocation hints and an xml-stylesheet PI naming the server fetch nothing; still valid."""
        data = replace_once(
            valid(),
            ROOT + b" ",
            ROOT
            + b' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="'
            + MESSAGE_NS
            + b" "
            + loopback.url("schema.xsd")
            + b'" ',
        )
        data = with_prolog(
            b'<?xml-stylesheet type="text/xsl" href="' + loopback.url("style.xsl") + b'"?>', data
        )
        verdict = run(data)
        assert verdict.valid, [(e.code, e.path) for e in verdict.errors]
        assert loopback.hits == []

    def test_xinclude_over_http_is_not_processed(self, loopback: LoopbackServer) -> None:
        """An XInclude element pointing at the server is never processed: schema error, zero requests."""
        include = (
            b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="' + loopback.url("inc") + b'"/>'
        )
        verdict = run(replace_once(valid(), AFZENDER, AFZENDER + include))
        assert verdict.stage is Stage.SCHEMA
        assert loopback.hits == []


class TestXInclude:
    def test_xinclude_of_local_file_is_never_processed(self, tmp_path: Path) -> None:
        """XInclude (parse=text) of a secret file is not processed: the foreign element fails at schema."""
        secret = tmp_path / "secret.txt"
        secret.write_text("CANARY-XINCLUDE-4b2e", encoding="utf-8")
        include = (
            b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="'
            + secret.as_uri().encode()
            + b'" parse="text"/>'
        )
        verdict = run(replace_once(valid(), AFZENDER, AFZENDER + include))
        assert verdict.stage is Stage.SCHEMA
        assert verdict.message_type == "JW323"
        assert [(e.code, e.retourcode, e.path) for e in verdict.errors] == [
            ("XSD", None, "/Bericht/Header/*")
        ]
        leak = "CANARY-XINCLUDE" in verdict_text(verdict)
        assert not leak, "the planted value appears in the verdict"

    def test_xinclude_replacing_a_value_is_not_processed(self, tmp_path: Path) -> None:
        """An XInclude inside Afzender that would supply a valid AGB is not processed: schema error."""
        agb = tmp_path / "agb.txt"
        agb.write_text("65656055", encoding="utf-8")
        include = (
            b'<jw323:Afzender><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="'
            + agb.as_uri().encode()
            + b'" parse="text"/></jw323:Afzender>'
        )
        verdict = run(replace_once(valid(), AFZENDER, include))
        assert verdict.stage is Stage.SCHEMA
        assert {e.path for e in verdict.errors} == {"/Bericht/Header/Afzender"}
        leak = "65656055" in verdict_text(verdict)
        assert not leak, "the planted value appears in the verdict"


# --------------------------------------------------------------------------------------------------
# Parser limits


class TestLimits:
    @pytest.mark.parametrize("levels", [300, 10_000])
    def test_deep_nesting_is_refused(self, levels: int) -> None:
        """Nesting deeper than libxml2's 256 levels is DEPTH (bare, and inside a valid message)."""
        assert_transport(run(b"<a>" * levels + b"</a>" * levels), "DEPTH")
        inner = b"<jw323:X>" * levels + b"</jw323:X>" * levels
        assert_transport(run(replace_once(valid(), AFZENDER, AFZENDER + inner)), "DEPTH")

    def test_text_node_over_ten_megabytes_is_limit(self) -> None:
        """A text node of 10 MiB + 1 characters inside a valid message is LIMIT (huge_tree stays off)."""
        data = replace_once(
            valid(), DECL_NUMBER, b"<jw323:DeclaratieNummer>" + b"1" * TEN_MIB_PLUS_ONE + b"<"
        )
        before = peak_rss_mib()
        assert_transport(run(data), "LIMIT")
        assert peak_rss_mib() - before < 300

    def test_attribute_over_ten_megabytes_is_limit(self) -> None:
        """An attribute value of 10 MiB + 1 characters is LIMIT, refused before the XSD sees it."""
        data = replace_once(
            valid(), b"<jw323:Declaratie>", b'<jw323:Declaratie a="' + b"x" * TEN_MIB_PLUS_ONE + b'">'
        )
        before = peak_rss_mib()
        assert_transport(run(data), "LIMIT")
        assert peak_rss_mib() - before < 300

    def test_long_element_name_is_limit(self) -> None:
        """A 60,000-character element name exceeds libxml2's name limit: LIMIT (not NOT_WELL_FORMED)."""
        assert_transport(run(b"<" + b"a" * 60_000 + b"/>"), "LIMIT")
        name = b"jw323:" + b"N" * 60_000
        assert_transport(run(replace_once(valid(), AFZENDER, AFZENDER + b"<" + name + b"/>")), "LIMIT")

    def test_many_namespace_declarations_are_refused(self) -> None:
        """40 extra xmlns declarations on the root of a valid message: NAMESPACES."""
        assert_transport(run(extra_namespaces(40)), "NAMESPACES")

    def test_namespace_declarations_spread_over_elements_count_too(self) -> None:
        """Declarations on many different elements add up: 40 one-declaration elements are NAMESPACES."""
        spread = b"".join(b'<p%d:x xmlns:p%d="urn:x:%d"/>' % (k, k, k) for k in range(40))
        assert_transport(run(replace_once(valid(), AFZENDER, AFZENDER + spread)), "NAMESPACES")

    def test_few_extra_namespace_declarations_are_accepted(self) -> None:
        """5 extra (unused) namespace declarations are harmless: the message stays valid."""
        verdict = run(extra_namespaces(5))
        assert verdict.valid, [(e.code, e.path) for e in verdict.errors]

    def test_namespace_limit_boundary(self) -> None:
        """Exactly MAX_NAMESPACE_DECLARATIONS declarations (2 own + extras) pass; one more is refused."""
        assert run(extra_namespaces(MAX_NAMESPACE_DECLARATIONS - 2)).valid
        assert_transport(run(extra_namespaces(MAX_NAMESPACE_DECLARATIONS - 1)), "NAMESPACES")

    def test_word_xmlns_in_text_is_not_a_declaration(self) -> None:
        """'xmlns' in a comment is no declaration: the message stays valid."""
        data = replace_once(valid(), AFZENDER, b"<!--" + b" xmlns" * 50 + b" -->" + AFZENDER)
        assert run(data).valid

    def test_over_the_size_limit_is_too_large(self) -> None:
        """One byte over a small configured limit: TOO_LARGE, with the limit in the message."""
        data = valid()
        verdict = run(data, Validator(limits=Limits(max_message_bytes=len(data) - 1)))
        assert_transport(verdict, "TOO_LARGE")
        assert str(len(data) - 1) in verdict.errors[0].message

    def test_exactly_at_the_size_limit_is_accepted(self) -> None:
        """A message of exactly the configured limit passes."""
        data = valid()
        assert run(data, Validator(limits=Limits(max_message_bytes=len(data)))).valid

    def test_size_limit_is_checked_before_parsing(self) -> None:
        """An over-limit message is TOO_LARGE even if it is also not well-formed (no parse work is done)."""
        with pytest.raises(TransportError) as caught:
            parse_xml(b"\xef\xbb\xbf<<<" + b"x" * 100, Limits(max_message_bytes=50))
        assert caught.value.finding.code == "TOO_LARGE"


def extra_namespaces(count: int) -> bytes:
    declarations = b" ".join(b'xmlns:p%d="urn:example:extra:%d"' % (k, k) for k in range(count))
    return replace_once(valid(), ROOT + b" ", ROOT + b" " + declarations + b" ")


# --------------------------------------------------------------------------------------------------
# Well-formedness


NOT_WELL_FORMED: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("whitespace-only", b" \r\n\t"),
    ("whitespace-before-xml-declaration", b" " + render(BASE)),
    ("newline-before-xml-declaration", b"\r\n" + render(BASE)),
    ("trailing-second-root", render(BASE) + b"<jw323:Bericht/>"),
    ("trailing-text", render(BASE) + b"x"),
    ("nul-character-reference", render(BASE).replace(b">DN0001<", b">DN&#0;01<")),
    ("raw-nul-byte", render(BASE).replace(b">DN0001<", b">DN\x0001<")),
    ("raw-control-char", render(BASE).replace(b">DN0001<", b">DN\x01001<")),
    ("control-char-reference", render(BASE).replace(b">DN0001<", b">DN&#1;01<")),
    ("unclosed-root", render(BASE).rsplit(b"</jw323:Bericht>", 1)[0]),
    ("mismatched-tag", render(BASE).replace(b"</jw323:Afzender>", b"</jw323:Ontvanger>", 1)),
    ("undeclared-prefix", render(BASE).replace(AFZENDER, b"<zz:Afzender>12345678</zz:Afzender>")),
    ("not-xml", b"BSN;naam\n999900006;Jansen\n"),
]


class TestWellFormedness:
    @pytest.mark.parametrize("data", [pytest.param(data, id=case) for case, data in NOT_WELL_FORMED])
    def test_not_well_formed(self, data: bytes) -> None:
        """Bytes that are not one well-formed XML document are NOT_WELL_FORMED."""
        assert_transport(run(data), "NOT_WELL_FORMED")

    def test_empty_message_says_so(self) -> None:
        """The empty body is reported as empty."""
        assert run(b"").errors[0].message == "the message is empty or has no root element"


# --------------------------------------------------------------------------------------------------
# Message type by root namespace


class TestMessageType:
    @pytest.mark.parametrize(
        "data",
        [
            pytest.param(render(BASE).replace(b"/ijw/3_2/jw323/", b"/ijw/3_1/jw323/"), id="release-3_1"),
            pytest.param(
                render(BASE, prefixed=False).replace(b' xmlns="' + MESSAGE_NS + b'"', b""), id="no-namespace"
            ),
            pytest.param(render(BASE).replace(MESSAGE_NS, b"urn:example:random"), id="random-namespace"),
            pytest.param(
                render(BASE).replace(MESSAGE_NS, b"http://www.istandaarden.nl/ijw/3_2/basisschema/schema"),
                id="basisschema-namespace",
            ),
        ],
    )
    def test_unknown_root_namespace_is_unknown_type(self, data: bytes) -> None:
        """A root in no supported namespace is UNKNOWN_TYPE at transport; the message names the types."""
        verdict = run(data)
        assert_transport(verdict, "UNKNOWN_TYPE")
        message = verdict.errors[0].message
        for name in ("JW323", "JW325", "WMO323", "WMO325"):
            assert name in message

    def test_known_namespace_with_wrong_root_name_is_schema(self) -> None:
        """The JW323 namespace with another root name is that type with an XSD error at the root ('*')."""
        verdict = run(render(BASE).replace(b"jw323:Bericht", b"jw323:Berichten"))
        assert verdict.stage is Stage.SCHEMA
        assert verdict.message_type == "JW323"
        assert [(e.code, e.retourcode, e.path) for e in verdict.errors] == [("XSD", None, "/*")]

    @pytest.mark.parametrize("family", ["ijw", "iwmo"])
    def test_each_supported_type_is_recognised(self, family: str) -> None:
        """Control: the 323 and the 325 of both families are recognised by their namespace and valid."""
        decl = random_declaration(random.Random(7), family=family, today=TODAY)  # type: ignore[arg-type]
        prefix = "JW" if family == "ijw" else "WMO"
        assert run(render(decl)).message_type == f"{prefix}323"
        answer = run(render(answer_for(decl, message_date=TODAY)))
        assert (answer.valid, answer.message_type) == (True, f"{prefix}325")


# --------------------------------------------------------------------------------------------------
# Harmless XML features


class TestHarmlessFeatures:
    def test_cdata_values_are_accepted(self) -> None:
        """CDATA around values (Afzender, Bsn, a date) is transparent: the message stays valid."""
        data = replace_once(valid(), b">12345678<", b"><![CDATA[12345678]]><")
        data = replace_once(data, b"<jw323:Bsn>999900006<", b"<jw323:Bsn><![CDATA[999900006]]><")
        data = replace_once(
            data,
            b">2025-10-06</jw323:DeclaratieDagtekening>",
            b"><![CDATA[2025-10-06]]></jw323:DeclaratieDagtekening>",
        )
        verdict = run(data)
        assert verdict.valid, [(e.code, e.path) for e in verdict.errors]

    def test_comments_and_processing_instructions_are_accepted(self) -> None:
        """Comments and PIs between elements, inside leaves and around the root leave the message valid."""
        data = with_prolog(b"<!-- before the root --><?app before?>")
        data = replace_once(
            data, b"<jw323:Bsn>999900006<", b"<!-- note --><?app x?><jw323:Bsn>9999<!-- in -->00006<"
        )
        data = replace_once(data, b">DN0001<", b">DN<?app in-leaf?>0001<")
        data = data + b"<!-- after the root --><?app after?>"
        verdict = run(data)
        assert verdict.valid, [(e.code, e.path) for e in verdict.errors]

    def test_comments_and_processing_instructions_are_dropped_at_parse(self) -> None:
        """parse_xml returns a tree without any comment or PI node, and leaf text is joined around them."""
        data = replace_once(
            valid(), b"<jw323:Bsn>999900006<", b"<!-- c --><?p x?><jw323:Bsn>9999<!-- in -->00006<"
        )
        root = parse_xml(data, Limits())
        assert root.xpath("//comment() | //processing-instruction()") == []
        bsn = root.find(".//{*}Bsn")
        assert bsn is not None
        assert bsn.text == "999900006"

    def test_default_namespace_form_is_accepted(self) -> None:
        """The default-namespace form (no message prefix) is the same message type and valid."""
        verdict = run(render(BASE, prefixed=False, crlf=False, indent=False))
        assert (verdict.valid, verdict.message_type) == (True, "JW323")

    def test_parse_xml_returns_the_root(self) -> None:
        """parse_xml gives the root element of a sound message."""
        root = parse_xml(valid(), Limits())
        assert root.tag == "{" + MESSAGE_NS.decode() + "}Bericht"


# --------------------------------------------------------------------------------------------------
# Robustness


STAGES = {None, Stage.TRANSPORT, Stage.SCHEMA, Stage.RULES}


def assert_well_formed_verdict(verdict: Verdict) -> None:
    assert verdict.stage in STAGES
    assert verdict.valid == (verdict.stage is None)
    assert verdict.valid == (verdict.errors == ())
    if verdict.stage is Stage.TRANSPORT:
        assert verdict.message_type is None
    elif verdict.stage is not None:
        assert verdict.message_type in {"JW323", "JW325", "WMO323", "WMO325"}
    decoded = json.loads(json.dumps(verdict.to_json()))
    assert set(decoded) == {"source", "message_type", "valid", "stage", "errors"}
    assert all(isinstance(e["code"], str) and e["code"] and e["message"] for e in decoded["errors"])


def _seed_messages() -> list[bytes]:
    messages = []
    for seed, family in enumerate(("ijw", "iwmo", "ijw", "iwmo")):
        decl = random_declaration(random.Random(seed), family=family, today=TODAY)  # type: ignore[arg-type]
        ref = decl.clients[0].lines[0].reference
        messages.append(render(decl, prefixed=seed % 2 == 0))
        messages.append(render(answer_for(decl, message_date=TODAY, rejected={ref: ("9338",)})))
    messages.append(render(replace(BASE, clients=(Client("999900006", BASE.clients[0].lines),))))
    return messages


SEEDS = _seed_messages()

mutation = st.tuples(
    st.sampled_from(["flip", "delete", "insert", "duplicate"]),
    st.floats(0, 1),
    st.binary(min_size=1, max_size=4),
)


def mutate(data: bytes, steps: list[tuple[str, float, bytes]]) -> bytes:
    out = bytearray(data)
    for op, where, chunk in steps:
        if not out:
            out.extend(chunk)
            continue
        at = min(int(where * len(out)), len(out) - 1)
        if op == "flip":
            out[at : at + len(chunk)] = chunk
        elif op == "delete":
            del out[at : at + len(chunk)]
        elif op == "insert":
            out[at:at] = chunk
        else:
            out[at:at] = out[at : at + 40]
    return bytes(out)


class TestFuzz:
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.binary(max_size=4096))
    def test_arbitrary_bytes_never_raise(self, data: bytes) -> None:
        """Any bytes give a verdict (never an exception) with a known stage and a JSON form."""
        assert_well_formed_verdict(validator().validate(data, "fuzz", today=TODAY))

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(seed=st.sampled_from(range(len(SEEDS))), steps=st.lists(mutation, min_size=1, max_size=6))
    def test_mutated_valid_messages_never_raise(
        self, seed: int, steps: list[tuple[str, float, bytes]]
    ) -> None:
        """Random byte mutations of valid 323/325 messages always give a consistent, serialisable verdict."""
        assert_well_formed_verdict(validator().validate(mutate(SEEDS[seed], steps), "fuzz", today=TODAY))

    @settings(max_examples=150, deadline=None)
    @given(
        seed=st.sampled_from(range(len(SEEDS))),
        at=st.floats(0, 1),
        text=st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12),
    )
    def test_text_insertions_never_raise(self, seed: int, at: float, text: str) -> None:
        """Inserting arbitrary (valid UTF-8) text anywhere in a valid message never raises."""
        base = SEEDS[seed]
        pos = int(at * len(base))
        data = base[:pos] + text.encode("utf-8") + base[pos:]
        assert_well_formed_verdict(validator().validate(data, "fuzz", today=TODAY))

    def test_seed_messages_are_valid(self) -> None:
        """Control: the fuzz seeds are valid messages (so mutations start from the accepted path)."""
        assert all(validator().validate(m, "seed", today=TODAY).valid for m in SEEDS)


def test_today_matters_only_for_rules() -> None:
    """Transport results do not depend on the date passed in (intake is clock-free)."""
    data = b"\xef\xbb\xbf" + valid()
    early = validator().validate(data, "in.xml", today=date(2021, 1, 1))
    late = validator().validate(data, "in.xml", today=date(2030, 1, 1))
    assert early == late
    assert_transport(early, "BOM")
