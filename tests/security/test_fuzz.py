"""Fuzzing every parser with Hypothesis (checklist 34, 35): a crash or a hang is a bug.

* XML intake: the whole pipeline (validation, answer, minimisation with the real policy) on structurally
  mutated JW323/WMO323 trees (elements dropped, duplicated, moved, renamed into other namespaces, values
  replaced) and on byte-mutated messages: always an outcome, never an exception.
* Fixed-width EI (JW321): record-level mutations (overwritten fields, record types, duplicated, dropped,
  swapped, cut or stretched records): always a verdict.
* ZIP reader: header fields of sound archives overwritten at their documented offsets: always a result.
* Policy files: line-level mutations of the shipped TOML policy: a Policy or a PolicyError, nothing else;
  a policy that loads minimises a message without surprises (PolicyError at most).
* HTTP: random media types, headers and bodies against the intake: never a 5xx.

Every example has a deadline (a hang fails the test); every test is bounded in examples.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import io
import json
import random
import struct
import tempfile
import threading
import zipfile
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lxml import etree

from filters.policy import PolicyError, default_policy_text, parse_policy
from filters.products import default_products_text, parse_products
from gateway.config import Settings
from gateway.intake.archive import ArchiveResult, read_archive
from gateway.minimise import Minimiser
from gateway.pipeline import Outcome, process
from gateway.results import Stage, Verdict
from gateway.service.http import ServiceConfig
from gateway.testing.builders import answer_for, random_declaration, render
from gateway.testing.builders_ei import random_ei_declaration, render_ei
from tests.helpers import TODAY, validator
from tests.security.common import environment, minimiser_factory
from tests.security.tally import record
from tests.service.test_http import serving

DEADLINE = timedelta(seconds=3)
FUZZ = settings(
    max_examples=500,
    deadline=DEADLINE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
STAGES = {None, Stage.TRANSPORT, Stage.SCHEMA, Stage.RULES}
KNOWN_TYPES = {"JW323", "JW325", "WMO323", "WMO325", "JW321", "JW322", None}


def assert_verdict(verdict: Verdict) -> None:
    """A verdict as the contract describes it, serialisable, every error with a code and a message."""
    assert verdict.stage in STAGES
    assert verdict.valid == (verdict.stage is None) == (verdict.errors == ())
    assert verdict.message_type in KNOWN_TYPES
    decoded = json.loads(json.dumps(verdict.to_json()))
    assert all(isinstance(e["code"], str) and e["code"] and e["message"] for e in decoded["errors"])


def assert_outcome(outcome: Outcome) -> None:
    stage = outcome.verdict.stage
    event(f"stage={stage.value if stage is not None else 'valid'}, billed={bool(outcome.minimised.billing)}")
    assert_verdict(outcome.verdict)
    if not outcome.verdict.valid and outcome.verdict.stage in (Stage.TRANSPORT, Stage.SCHEMA):
        assert outcome.minimised.billing == ()  # nothing unreadable is billed
    json.dumps(outcome.to_json())
    json.dumps([dict(r) for r in outcome.minimised.billing])


# --------------------------------------------------------------------------------------------------
# XML: structural mutations through the whole pipeline


@cache
def xml_seeds() -> tuple[bytes, ...]:
    out = []
    for seed, family in enumerate(("ijw", "iwmo", "ijw")):
        decl = random_declaration(random.Random(100 + seed), family=family, today=TODAY)  # type: ignore[arg-type]
        out.append(render(decl, prefixed=seed != 2))
        out.append(render(answer_for(decl, message_date=TODAY)))
    return tuple(out)


NAMESPACES = (
    "http://www.istandaarden.nl/ijw/3_2/jw323/schema",
    "http://www.istandaarden.nl/ijw/3_2/basisschema/schema",
    "http://www.istandaarden.nl/iwmo/3_2/wmo323/schema",
    "http://www.istandaarden.nl/ijw/3_1/jw323/schema",
    "urn:example:other",
    "",
)
texts = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30),
    st.sampled_from(["", " ", "999900006", "-1", "0", "99999999999999999999", "2025-02-30", "D", "C", "X"]),
)
xml_operation = st.tuples(
    st.sampled_from(["drop", "duplicate", "move", "rename", "text", "attribute", "empty"]),
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=0, max_value=10_000),
    texts,
    st.sampled_from(NAMESPACES),
)


def mutate_tree(data: bytes, operations: list[tuple[str, int, int, str, str]]) -> bytes:
    root = etree.fromstring(data)
    for op, a, b, text, namespace in operations:
        elements = list(root.iter())
        target = elements[a % len(elements)]
        parent = target.getparent()
        if op == "drop" and parent is not None:
            parent.remove(target)
        elif op == "duplicate" and parent is not None:
            target.addnext(copy.deepcopy(target))
        elif op == "move" and parent is not None:
            destination = elements[b % len(elements)]
            if target not in destination.iterancestors() and destination is not target:
                destination.append(target)
        elif op == "rename":
            local = etree.QName(target).localname
            target.tag = f"{{{namespace}}}{local}" if namespace else local
        elif op == "text" and len(target) == 0:
            target.text = text
        elif op == "attribute":
            target.set("a" + str(b % 5), text)
        elif op == "empty":
            for child in list(target):
                target.remove(child)
            target.text = None
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


@FUZZ
@given(seed=st.integers(0, 5), operations=st.lists(xml_operation, min_size=1, max_size=5))
def test_structurally_mutated_messages_never_crash_the_pipeline(
    seed: int, operations: list[tuple[str, int, int, str, str]]
) -> None:
    """Dropped, duplicated, moved, renamed and rewritten elements: the pipeline (validation, 325, policy)
    always returns an outcome."""
    data = mutate_tree(xml_seeds()[seed], operations)
    assert_outcome(process(data, "fuzz.xml", environment()))
    record("fuzz.xml.structure")


def same_shape(text: str, rng: random.Random) -> str:
    """A value of the same shape: digits stay digits (same count), letters stay letters, the rest stays."""
    out = []
    for ch in text:
        if ch.isdigit():
            out.append(rng.choice("0123456789"))
        elif ch.isalpha():
            out.append(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        else:
            out.append(ch)
    return "".join(out)


def mutate_values(data: bytes, picks: list[int], seed: int) -> bytes:
    root = etree.fromstring(data)
    leaves = [e for e in root.iter() if len(e) == 0 and e.text]
    rng = random.Random(seed)
    for pick in picks:
        leaf = leaves[pick % len(leaves)]
        leaf.text = same_shape(leaf.text or "", rng)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


@FUZZ
@given(
    seed=st.integers(0, 5),
    picks=st.lists(st.integers(0, 10_000), min_size=1, max_size=6),
    rng_seed=st.integers(0, 2**32 - 1),
)
def test_value_mutations_reach_the_rules_and_never_crash(seed: int, picks: list[int], rng_seed: int) -> None:
    """Leaf values replaced by values of the same shape (so the XSD mostly still holds): rules, answers and
    the policy see odd dates, amounts, codes and BSNs, and always return an outcome."""
    assert_outcome(process(mutate_values(xml_seeds()[seed], picks, rng_seed), "fuzz.xml", environment()))
    record("fuzz.xml.values")


byte_operation = st.tuples(
    st.sampled_from(["flip", "delete", "insert", "duplicate"]),
    st.floats(0, 1),
    st.binary(min_size=1, max_size=8),
)


def mutate_bytes(data: bytes, operations: list[tuple[str, float, bytes]]) -> bytes:
    out = bytearray(data)
    for op, where, chunk in operations:
        at = min(int(where * len(out)), max(0, len(out) - 1))
        if op == "flip":
            out[at : at + len(chunk)] = chunk
        elif op == "delete":
            del out[at : at + 8 * len(chunk)]
        elif op == "insert":
            out[at:at] = chunk
        else:
            out[at:at] = out[at : at + 64]
    return bytes(out)


@FUZZ
@given(seed=st.integers(0, 5), operations=st.lists(byte_operation, min_size=1, max_size=8))
def test_byte_mutated_messages_never_crash_the_pipeline(
    seed: int, operations: list[tuple[str, float, bytes]]
) -> None:
    """Byte-level damage anywhere in a valid message: always an outcome with a known stage."""
    assert_outcome(process(mutate_bytes(xml_seeds()[seed], operations), "fuzz.xml", environment()))
    record("fuzz.xml.bytes")


@settings(max_examples=300, deadline=DEADLINE, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2048) | st.text(max_size=512).map(str.encode))
def test_arbitrary_input_never_crashes_the_validator(data: bytes) -> None:
    """Any bytes at all (including text that looks like XML or EI): Validator.check gives a verdict."""
    assert_verdict(validator().check(data, "fuzz", today=TODAY).verdict)
    record("fuzz.xml.arbitrary")


# --------------------------------------------------------------------------------------------------
# EI fixed-width records


@cache
def ei_seeds() -> tuple[bytes, ...]:
    return tuple(render_ei(random_ei_declaration(random.Random(200 + i))) for i in range(3))


printable = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=40)
ei_operation = st.tuples(
    st.sampled_from(["overwrite", "type", "duplicate", "drop", "swap", "cut", "stretch"]),
    st.integers(0, 10_000),
    st.integers(0, 10_000),
    printable,
)


def mutate_records(data: bytes, operations: list[tuple[str, int, int, str]]) -> bytes:
    records = data[:-2].split(b"\r\n")
    for op, a, b, text in operations:
        if not records:
            records.append(text.encode())
            continue
        i = a % len(records)
        record_ = records[i]
        chunk = text.encode()
        if op == "overwrite":
            at = b % max(1, len(record_))
            records[i] = (record_[:at] + chunk + record_[at + len(chunk) :])[: len(record_)]
        elif op == "type":
            records[i] = chunk[:2].rjust(2, b"0") + record_[2:]
        elif op == "duplicate":
            records.insert(i, record_)
        elif op == "drop":
            del records[i]
        elif op == "swap":
            j = b % len(records)
            records[i], records[j] = records[j], records[i]
        elif op == "cut":
            records[i] = record_[: b % max(1, len(record_))]
        else:
            records[i] = record_ + chunk
    return b"".join(r + b"\r\n" for r in records)


@FUZZ
@given(seed=st.integers(0, 2), operations=st.lists(ei_operation, min_size=1, max_size=6))
def test_mutated_ei_records_never_crash_the_pipeline(
    seed: int, operations: list[tuple[str, int, int, str]]
) -> None:
    """Overwritten fields, wrong record types, duplicated, dropped, swapped, cut and stretched records of a
    JW321: the pipeline (EI parser, XSD, rules, JW322, policy) always returns an outcome."""
    data = mutate_records(ei_seeds()[seed], operations)
    assert_outcome(process(data, "fuzz.txt", environment()))
    record("fuzz.ei.records")


# --------------------------------------------------------------------------------------------------
# ZIP headers


def sound_archive(members: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(members):
            archive.writestr(f"m{i}.xml", xml_seeds()[i % 6])
    return buffer.getvalue()


# (offset in the record, struct format) of every numeric field of the three ZIP records
FIELDS = {
    b"PK\x03\x04": [
        (4, "<H"),
        (6, "<H"),
        (8, "<H"),
        (14, "<L"),
        (18, "<L"),
        (22, "<L"),
        (26, "<H"),
        (28, "<H"),
    ],
    b"PK\x01\x02": [
        (8, "<H"),
        (10, "<H"),
        (16, "<L"),
        (20, "<L"),
        (24, "<L"),
        (28, "<H"),
        (30, "<H"),
        (32, "<H"),
        (38, "<L"),
        (42, "<L"),
    ],
    b"PK\x05\x06": [(4, "<H"), (6, "<H"), (8, "<H"), (10, "<H"), (12, "<L"), (16, "<L"), (20, "<H")],
}
values = st.sampled_from([0, 1, 2, 0x7F, 0xFF, 0xFFFF, 0xFFFFFFFF, 0x10000, 30, 31, 100]) | st.integers(
    0, 2**32 - 1
)
zip_operation = st.tuples(st.sampled_from(sorted(FIELDS)), st.integers(0, 40), st.integers(0, 20), values)


def patch_fields(data: bytes, operations: list[tuple[bytes, int, int, int]]) -> bytes:
    out = bytearray(data)
    for signature, occurrence, field, value in operations:
        starts = [i for i in range(len(out) - 3) if out[i : i + 4] == signature]
        if not starts:
            continue
        start = starts[occurrence % len(starts)]
        offset, fmt = FIELDS[signature][field % len(FIELDS[signature])]
        size = struct.calcsize(fmt)
        if start + offset + size <= len(out):
            struct.pack_into(fmt, out, start + offset, value & (0xFFFF if size == 2 else 0xFFFFFFFF))
    return bytes(out)


def assert_archive(result: ArchiveResult) -> None:
    assert (result.error is None) or (result.members == ())
    for member in result.members:
        assert (member.data is None) != (member.error is None)


@FUZZ
@given(members=st.integers(1, 4), operations=st.lists(zip_operation, min_size=1, max_size=6))
def test_zip_header_fields_overwritten_never_crash_the_reader(
    members: int, operations: list[tuple[bytes, int, int, int]]
) -> None:
    """Sizes, offsets, counts, flags, methods and name lengths of sound archives set to edge values: the
    reader returns members or one finding, never raises, within the deadline."""
    assert_archive(read_archive(patch_fields(sound_archive(members), operations)))
    record("fuzz.zip.headers")


# --------------------------------------------------------------------------------------------------
# Policy files


@cache
def policy_lines() -> tuple[str, ...]:
    return tuple(default_policy_text().splitlines())


toml_values = st.sampled_from(
    [
        '"keep"',
        '"drop"',
        '"restrict"',
        '"pseudonymise"',
        "true",
        "false",
        "1",
        "[]",
        "{}",
        '""',
        '"x"',
        "[1, 2]",
        '["client_bsn"]',
        '["product_code", "nonexistent"]',
        "{ optout = true }",
        '"both"',
        '"message"',
        "1979-05-27",
        '"\\u0000"',
        "inf",
        "nan",
    ]
)
policy_operation = st.tuples(
    st.sampled_from(["drop", "duplicate", "value", "key", "truncate", "swap"]),
    st.integers(0, 10_000),
    st.integers(0, 10_000),
    toml_values,
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12),
)


def mutate_policy(operations: list[tuple[str, int, int, str, str]]) -> str:
    lines = list(policy_lines())
    for op, a, b, value, key in operations:
        if not lines:
            break
        i = a % len(lines)
        line = lines[i]
        if op == "drop":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, line)
        elif op == "value" and "=" in line:
            lines[i] = line.split("=", 1)[0] + "= " + value
        elif op == "key" and "=" in line:
            lines[i] = key + " =" + line.split("=", 1)[1]
        elif op == "truncate":
            lines[i] = line[: b % max(1, len(line))]
        elif op == "swap":
            j = b % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines) + "\n"


@cache
def products() -> Any:
    return parse_products(default_products_text())


@settings(max_examples=500, deadline=DEADLINE, suppress_health_check=[HealthCheck.too_slow])
@given(operations=st.lists(policy_operation, min_size=1, max_size=4))
def test_mutated_policy_is_a_policy_or_a_policy_error(
    operations: list[tuple[str, int, int, str, str]],
) -> None:
    """A damaged policy file either loads or raises PolicyError naming the problem; a policy that loads is
    safe to evaluate: minimising a valid message raises nothing but PolicyError."""
    text = mutate_policy(operations)
    problem = ""
    try:
        policy = parse_policy(text, name="fuzz.toml")
    except PolicyError as exc:
        problem = str(exc)
    if problem:
        assert problem.startswith("policy fuzz.toml"), problem[:80]  # names the file
        record("fuzz.policy.refused")
        return
    try:
        minimiser = Minimiser(policy, products(), key=b"fuzz-policy-key-0123456789")
        checked = validator().check(xml_seeds()[0], "seed.xml", today=TODAY)
        minimiser.minimise(checked)
    except PolicyError:
        pass
    record("fuzz.policy.loaded")


@settings(max_examples=200, deadline=DEADLINE)
@given(text=st.text(max_size=400))
def test_arbitrary_text_is_a_policy_or_a_policy_error(text: str) -> None:
    """Any text at all: a Policy with rules, or a PolicyError naming the file."""
    try:
        policy = parse_policy(text, name="fuzz.toml")
    except PolicyError as exc:
        problem = str(exc)
    else:
        problem = ""
        assert policy.rules
    assert not problem or problem.startswith("policy fuzz.toml")
    record("fuzz.policy.arbitrary")


# --------------------------------------------------------------------------------------------------
# HTTP intake (a bounded stand-in for a schemathesis run: the service has no OpenAPI document on purpose)


class AppThread:
    """The intake app with its lifespan running on an event loop of its own thread; sync requests."""

    def __init__(self, config: ServiceConfig) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._stack = contextlib.AsyncExitStack()
        self.client = self._call(self._stack.enter_async_context(serving(config)))

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def request(self, method: str, path: str, *, content: bytes, headers: dict[str, str]) -> Any:
        return self._call(self.client.request(method, path, content=content, headers=headers))


@cache
def client() -> AppThread:
    """One intake for the whole fuzz run (its outbox in a temporary directory)."""
    config = ServiceConfig(
        settings=Settings(data_dir=Path(tempfile.mkdtemp(prefix="jwmo-fuzz-")), max_message_bytes=65_536),
        today=lambda: TODAY,
        minimiser_factory=minimiser_factory,
    )
    return AppThread(config)


media = st.sampled_from(
    [
        "application/xml",
        "text/xml",
        "text/plain",
        "application/zip",
        "application/json",
        "",
        "text/xml; charset=latin1",
        "application/xml; boundary=x",
        "APPLICATION/XML",
        "application/x-zip-compressed",
    ]
)
bodies = st.one_of(
    st.binary(max_size=1024),
    st.sampled_from(range(6)).map(lambda i: xml_seeds()[i]),
    st.tuples(st.integers(0, 5), st.lists(byte_operation, max_size=3)).map(
        lambda t: mutate_bytes(xml_seeds()[t[0]], t[1])
    ),
    st.integers(1, 3).map(sound_archive),
)
header_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)


@settings(max_examples=300, deadline=DEADLINE, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS"]),
    path=st.sampled_from(["/v1/declarations", "/v1/declarations/", "/healthz", "/metrics", "/v1/x", "/%00"]),
    content_type=media,
    extra=st.dictionaries(
        st.sampled_from(["X-API-Key", "Authorization", "Accept", "X-Request-ID"]), header_values, max_size=2
    ),
    body=bodies,
)
def test_http_intake_never_answers_5xx(
    method: str, path: str, content_type: str, extra: dict[str, str], body: bytes
) -> None:
    """Random methods, paths, media types, headers and bodies (messages, damaged messages, archives,
    noise): never a 5xx, always the security headers; the answer never carries a stack trace."""
    response = client().request(method, path, content=body, headers={"Content-Type": content_type, **extra})
    assert response.status_code < 500, (method, path, response.status_code)
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert "Traceback" not in response.text
    record("fuzz.http.requests")


def test_fuzz_seeds_are_valid() -> None:
    """Control: the XML and EI seeds are valid messages, so mutations start from the accepted path."""
    assert all(validator().validate(m, "seed", today=TODAY).valid for m in xml_seeds())
    assert all(validator().validate(m, "seed", today=TODAY).valid for m in ei_seeds())
    assert read_archive(sound_archive(3)).error is None
    parse_policy("\n".join(policy_lines()), name="seed.toml")
