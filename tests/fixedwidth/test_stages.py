"""Transport and schema stages of JW321/JW322 files: every EI code of B.6 with its exact stage and path,
the canonical tree, and the decoded values of the B.7 example."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from lxml import etree

from gateway.fixedwidth.layout import load_layout
from gateway.fixedwidth.parser import MAX_FINDINGS_PER_CODE, looks_like_ei, parse_records
from gateway.fixedwidth.records import EiMessage
from gateway.fixedwidth.stage import check_ei
from gateway.intake.transport import Limits
from gateway.results import Stage, Verdict
from gateway.testing.builders_ei import b7_declaration, line_numbers, render_ei, replace_field
from gateway.validation import Validator
from tests.fixedwidth.base import B7, B7_ANSWER, TODAY, check, findings, records, with_records
from tests.helpers import validator

JW321_NS = "{urn:jwmo-gateway:ei:jw321}"


def assert_verdict(
    verdict: Verdict, stage: Stage, expected: list[tuple[str, str | None]], kind: str = "JW321"
) -> None:
    assert (verdict.message_type, verdict.valid, verdict.stage) == (kind, False, stage)
    assert findings(verdict) == expected
    assert all(e.retourcode is None for e in verdict.errors)


# --------------------------------------------------------------------------------------------------
# The valid examples and the canonical tree


def test_examples_are_valid() -> None:
    """The B.7 example and its JW322 pass every stage and report their type."""
    assert check(B7) == Verdict("ei.txt", "JW321", True, None, ())
    assert check(B7_ANSWER) == Verdict("ei.txt", "JW322", True, None, ())


def test_b7_decoded_values() -> None:
    """The first 04 record of B.7 decodes to the values of the table under B.7, and the file to its totals."""
    checked = validator().check(B7, "b7", today=TODAY)
    message = checked.message
    assert isinstance(message, EiMessage)
    h = message.header
    assert (h.agb_zorgaanbieder, h.gemeentecode, h.identificatie_bericht, h.factuurnummer) == (
        "94060117",
        "0014",
        "VB2017000123",
        "2017F004711",
    )
    assert (h.dagtekening, h.begindatum_declaratieperiode, h.einddatum_declaratieperiode) == (
        date(2017, 2, 10),
        date(2017, 1, 1),
        date(2017, 1, 31),
    )
    line = message.clients[0].lines[0]
    assert line.identificatie_detailrecord == 2
    assert (line.bsn, line.referentienummer, line.vorig_referentienummer) == ("999900006", "VB0001", None)
    assert line.dbc_trajectnummer == "T2016000815"
    assert (line.begindatum_dbc, line.einddatum_dbc) == (date(2016, 3, 3), date(2017, 1, 20))
    assert line.dbc_prestatiecode == "110008003144"
    assert (line.declaratiecode, line.diagnosecode_dsm4) == ("25J144", "296.32")
    assert (line.type_verwijzer, line.afsluitreden) == ("01", "01")
    assert (line.tarief, line.declaratiebedrag, line.indicatie_debet_credit) == (412350, 412350, "D")
    assert [c.regelnummer for c in line.comments] == [1]
    assert line.path == "/JW321/R04[3]"
    assert [len(c.lines) for c in message.clients] == [2, 2]
    credit = message.clients[1].lines[1]
    assert (credit.vorig_referentienummer, credit.indicatie_debet_credit, credit.diagnosecode_dsm4) == (
        "VA0917",
        "C",
        "314.01",
    )
    assert message.clients[1].lines[0].diagnosecode_dsm4 is None
    t = message.trailer
    assert (t.aantal_clientrecords, t.aantal_prestatierecords, t.aantal_commentaarrecords) == (2, 4, 1)
    assert (t.totaal_aantal_detailrecords, t.totaal_declaratiebedrag, t.indicatie_debet_credit) == (
        7,
        336550,
        "D",
    )
    assert (t.path, message.clients[1].path) == ("/JW321/R99[9]", "/JW321/R02[6]")


def test_canonical_tree() -> None:
    """One element per record with its line; fields in layout order; dates ISO; blank optionals left out."""
    checked = validator().check(B7, "b7", today=TODAY)
    root = checked.root
    assert root is not None
    assert root.tag == f"{JW321_NS}JW321"
    assert [(el.tag.removeprefix(JW321_NS), el.get("line")) for el in root] == [
        ("R01", "1"),
        ("R02", "2"),
        ("R04", "3"),
        ("R98", "4"),
        ("R04", "5"),
        ("R02", "6"),
        ("R04", "7"),
        ("R04", "8"),
        ("R99", "9"),
    ]
    first_line = root[2]
    assert first_line.findtext(f"{JW321_NS}BEGINDATUM_DBC") == "2016-03-03"
    assert first_line.findtext(f"{JW321_NS}TARIEF") == "00412350"
    assert first_line.find(f"{JW321_NS}VORIG_REFERENTIENUMMER") is None  # blank optional
    assert first_line.find(f"{JW321_NS}RESERVE") is None  # blank reserve
    assert first_line.findtext(f"{JW321_NS}DBC_TRAJECTNUMMER") == "T2016000815"  # trailing spaces removed
    assert checked.spec is not None
    assert checked.spec.name == "JW321"


# --------------------------------------------------------------------------------------------------
# Transport (EI001-EI004)


@pytest.mark.parametrize(
    ("case", "data", "expected"),
    [
        ("bom", b"\xef\xbb\xbf" + B7, [("EI001", "/JW321")]),
        ("tab", B7.replace(b"RECIDIEF", b"RECI\tIEF"), [("EI001", "/JW321/R98[4]")]),
        ("nul", B7.replace(b"VB0003", b"VB\x00003"), [("EI001", "/JW321/R04[7]")]),
        ("eof-char", B7 + b"\x1a", [("EI001", "/JW321")]),
        ("del", B7.replace(b"T2016000012", b"T2016\x7f00012"), [("EI001", "/JW321/R04[8]")]),
        ("utf8", B7.replace(b"RECIDIEF", "RÉCIDIEF".encode()), [("EI001", "/JW321/R98[4]")]),
        ("bare-lf", B7.replace(b"\r\n", b"\n", 1), [("EI002", "/JW321/R01[1]")]),
        ("bare-cr", B7.replace(b"       \r\n02", b"      \r\r\n02", 1), [("EI002", "/JW321/R01[1]")]),
        ("unix-file", B7.replace(b"\r\n", b"\n"), [("EI002", "/JW321/R01[1]")]),
        (
            "both",
            b"\xef\xbb\xbf" + B7.replace(b"\r\n", b"\n", 1).replace(b"RECIDIEF", b"RE\x01IDIEF"),
            [("EI001", "/JW321"), ("EI002", "/JW321/R01[1]"), ("EI001", "/JW321/R98[3]")],
        ),
    ],
)
def test_transport_errors_keep_the_type(
    case: str, data: bytes, expected: list[tuple[str, str | None]]
) -> None:
    """Bytes outside printable ASCII, a byte-order mark (EI001) and bare line ends (EI002) are transport
    errors of the detected type, at the record's line (the bare LF joins lines 1 and 2 into one)."""
    assert_verdict(check(data), Stage.TRANSPORT, expected)


def test_transport_error_on_a_jw322_reports_jw322() -> None:
    """The type of a JW322 with a bad byte is still JW322 (section E)."""
    assert_verdict(
        check(B7_ANSWER.replace(b"0200", b"02\t0", 1)), Stage.TRANSPORT, [("EI001", "/JW322/R01[1]")], "JW322"
    )


def test_unknown_header_is_ei003_without_type() -> None:
    """EI-like content that is not a JW321/JW322 header (an older EI message, 01414) is EI003, type null."""
    verdict = check(b"01414" + B7[5:])
    assert (verdict.message_type, verdict.stage, findings(verdict)) == (
        None,
        Stage.TRANSPORT,
        [("EI003", None)],
    )
    assert looks_like_ei(b"99999")
    assert not looks_like_ei(b"<?xml")
    assert not looks_like_ei(b"0143")


def test_empty_file_given_to_the_ei_stage_is_ei003() -> None:
    """check_ei on an empty file (e.g. an EI intake) says EI003 'empty'; the validator keeps XML's answer."""
    checked = check_ei(validator(), b"", "empty.txt", today=TODAY)
    assert findings(checked.verdict) == [("EI003", None)]
    assert checked.verdict.errors[0].message == "the file is empty"
    assert checked.verdict.message_type is None
    assert check(b"").errors[0].code == "NOT_WELL_FORMED"


def test_size_limit_is_ei004() -> None:
    """A file larger than the limit is EI004 of its type, checked before anything else."""
    small = Validator(limits=Limits(max_message_bytes=1000))
    verdict = small.validate(B7.replace(b"RECIDIEF", b"RE\tIDIEF"), "big.txt", today=TODAY)
    assert_verdict(verdict, Stage.TRANSPORT, [("EI004", "/JW321")])
    assert (
        small.validate(B7[:1000], "ok-size.txt", today=TODAY).stage is Stage.SCHEMA
    )  # 1000 bytes: not EI004


# --------------------------------------------------------------------------------------------------
# Records (EI010, EI011, EI016) and the XSD (EI012-EI015)

R = records(B7)  # 1 01, 2 02, 3 04, 4 98, 5 04, 6 02, 7 04, 8 04, 9 99


@pytest.mark.parametrize(
    ("case", "data", "expected"),
    [
        ("short-record", with_records([R[0], R[1][:300], *R[2:]]), [("EI010", "/JW321/R02[2]")]),
        ("long-record", with_records([*R[:2], R[2] + b"  ", *R[3:]]), [("EI010", "/JW321/R04[3]")]),
        (
            "trailing-spaces-cut",
            with_records([r.rstrip() for r in R]),
            [
                ("EI010", f"/JW321/R{t}[{n}]")
                for n, t in enumerate(("01", "02", "04", "98", "04", "02", "04", "04", "99"), 1)
            ],
        ),
        ("empty-line", with_records([*R[:4], b"", *R[4:]]), [("EI010", "/JW321")]),
        ("two-final-crlf", B7 + b"\r\n", [("EI010", "/JW321")]),
        ("unknown-type", with_records([*R[:4], b"97" + R[3][2:], *R[4:]]), [("EI011", "/JW321")]),
        (
            "04-before-02",
            with_records([R[0], R[2], R[1], *R[3:]]),
            [
                ("EI016", "/JW321/R04[2]/IDENTIFICATIE_DETAILRECORD"),
                ("EI012", "/JW321/R04[2]"),
                ("EI016", "/JW321/R02[3]/IDENTIFICATIE_DETAILRECORD"),
            ],
        ),
        (
            "comment-after-client",
            with_records([R[0], R[1], R[3], R[2], *R[4:]]),
            [
                ("EI016", "/JW321/R98[3]/IDENTIFICATIE_DETAILRECORD"),
                ("EI012", "/JW321/R98[3]"),
                ("EI016", "/JW321/R04[4]/IDENTIFICATIE_DETAILRECORD"),
            ],
        ),
        (
            "client-without-line",
            with_records([*R[:5], R[5], *R[5:]]),
            [
                ("EI016", "/JW321/R02[7]/IDENTIFICATIE_DETAILRECORD"),
                ("EI012", "/JW321/R02[7]"),
                ("EI016", "/JW321/R04[8]/IDENTIFICATIE_DETAILRECORD"),
                ("EI016", "/JW321/R04[9]/IDENTIFICATIE_DETAILRECORD"),
            ],
        ),
        ("no-trailer", with_records(R[:-1]), [("EI012", "/JW321")]),
        ("two-headers", with_records([R[0], *R]), [("EI012", "/JW321/R01[2]")]),
    ],
)
def test_record_structure(case: str, data: bytes, expected: list[tuple[str, str | None]]) -> None:
    """Record length (EI010, no field checks on that record), unknown types (EI011), order (EI012) and
    numbering (EI016) are schema errors at the record's line."""
    assert_verdict(check(data), Stage.SCHEMA, expected)


def test_wrong_length_record_gets_no_field_checks() -> None:
    """A short record with broken fields reports EI010 only, and still counts for the order check."""
    broken = replace_field(B7, 3, "BEGINDATUM_DBC", "20161301")
    parts = records(broken)
    parts[2] = parts[2][:200]
    assert_verdict(check(with_records(parts)), Stage.SCHEMA, [("EI010", "/JW321/R04[3]")])


@pytest.mark.parametrize(
    ("line", "field", "value", "code"),
    [
        (1, "AGB_ZORGAANBIEDER", "00000000", "EI014"),
        (1, "GEMEENTECODE", "0000", "EI014"),
        (1, "AGB_ZORGAANBIEDER", "9406011A", "EI013"),
        (1, "CODE_INFORMATIESYSTEEM", "  4711", "EI013"),
        (1, "DAGTEKENING", "20170230", "EI013"),
        (1, "DAGTEKENING", "00000000", "EI013"),
        (1, "BEGINDATUM_DECLARATIEPERIODE", "2017-1-1", "EI013"),
        (1, "IDENTIFICATIE_BERICHT", "", "EI014"),
        (1, "IDENTIFICATIE_BERICHT", "VB-2017", "EI013"),
        (1, "FACTUURNUMMER", " 2017F", "EI013"),
        (1, "BERICHTVERSIE", "03", "EI015"),
        (1, "BERICHTSUBVERSIE", "01", "EI015"),
        (1, "SOORT_BERICHT", "A", "EI015"),
        (1, "SOORT_BERICHT", "", "EI014"),
        (1, "VALUTACODE", "NLG", "EI015"),
        (1, "RESERVE", "    X", "EI013"),
        (2, "GESLACHT", "3", "EI015"),
        (2, "BSN", "99990000A", "EI013"),
        (2, "GEBOORTEDATUM", "20080230", "EI013"),
        (3, "REFERENTIENUMMER", "", "EI014"),
        (3, "REFERENTIENUMMER", "VB 0001", "EI013"),
        (3, "DBC_TRAJECTNUMMER", "", "EI014"),
        (3, "DBC_PRESTATIECODE", "11000800314", "EI013"),
        (3, "DBC_PRESTATIECODE", "", "EI014"),
        (3, "DECLARATIECODE", "25j144", "EI013"),
        (3, "DIAGNOSECODE_DSM4", "F32.1", "EI013"),
        (3, "DIAGNOSECODE_DSM4", "296.321", "EI013"),
        (3, "DIAGNOSECODE_DSM4", " 296.32", "EI013"),
        (3, "TYPE_VERWIJZER", "09", "EI015"),
        (3, "AFSLUITREDEN", "30", "EI015"),
        (3, "TARIEF", "4123.50", "EI013"),
        (3, "INDICATIE_DEBET_CREDIT", "X", "EI015"),
        (3, "INDICATIE_DEBET_CREDIT", "", "EI014"),
        (4, "VRIJE_TEKST", "", "EI014"),
        (4, "VRIJE_TEKST", " RECIDIEF", "EI013"),
        (9, "TOTAAL_DECLARATIEBEDRAG", "336550", "EI013"),
        (9, "INDICATIE_DEBET_CREDIT", "+", "EI015"),
    ],
)
def test_field_errors(line: int, field: str, value: str, code: str) -> None:
    """Format (EI013), blank mandatory and all-zero AGB/GEMEENTE (EI014), fixed domains and table codes
    (EI015): one finding at /JW321/R<type>[<line>]/<FIELD>."""
    rtype = records(B7)[line - 1][:2].decode()
    verdict = check(replace_field(B7, line, field, value))
    assert_verdict(verdict, Stage.SCHEMA, [(code, f"/JW321/R{rtype}[{line}]/{field}")])
    assert field in verdict.errors[0].message


@pytest.mark.parametrize(
    ("line", "field", "value", "wanted"),
    [
        (5, "IDENTIFICATIE_DETAILRECORD", "000000000009", "expected 4"),
        (2, "IDENTIFICATIE_DETAILRECORD", "000000000000", "expected 1"),
        (4, "REGELNUMMER", "0002", "expected 1"),
    ],
)
def test_numbering(line: int, field: str, value: str, wanted: str) -> None:
    """A detail record or comment line that breaks 1, 2, 3 ... is EI016 on that record only."""
    rtype = records(B7)[line - 1][:2].decode()
    verdict = check(replace_field(B7, line, field, value))
    assert_verdict(verdict, Stage.SCHEMA, [("EI016", f"/JW321/R{rtype}[{line}]/{field}")])
    assert verdict.errors[0].message.endswith(wanted)


def test_comment_numbering_restarts_after_each_line() -> None:
    """Comments after one line run 1, 2; after the next line they start at 1 again (not 3)."""
    decl = b7_declaration()
    first, second = decl.clients[0].lines
    lines = (replace(first, comments=("EERSTE", "TWEEDE")), replace(second, comments=("DERDE",)))
    data = render_ei(replace(decl, clients=(replace(decl.clients[0], lines=lines), decl.clients[1])))
    assert check(data).valid
    numbers = line_numbers(replace(decl, clients=(replace(decl.clients[0], lines=lines), decl.clients[1])))
    continued = replace_field(data, numbers["VB0002#1"], "REGELNUMMER", "0003")
    assert_verdict(
        check(continued), Stage.SCHEMA, [("EI016", f"/JW321/R98[{numbers['VB0002#1']}]/REGELNUMMER")]
    )


def test_jw322_retour_fields() -> None:
    """JW322: a blank RETOURCODE_01 is EI014, a bad retourcode EI013, a non-blank retour reserve EI013."""
    cases = [
        (1, "RETOURCODE_01", "", "EI014"),
        (3, "RETOURCODE_02", "ab12", "EI013"),
        (3, "RESERVE_TOEGEKEND", "X", "EI013"),
        (3, "INDICATIE_DEBET_CREDIT_TOEGEKEND", "X", "EI015"),
        (1, "DAGTEKENING_RETOUR", "20171301", "EI013"),
        (9, "TOTAAL_TOEGEKEND_BEDRAG", "", "EI013"),
    ]
    for line, field, value, code in cases:
        rtype = records(B7_ANSWER)[line - 1][:2].decode()
        verdict = check(replace_field(B7_ANSWER, line, field, value, message="JW322"))
        assert_verdict(verdict, Stage.SCHEMA, [(code, f"/JW322/R{rtype}[{line}]/{field}")], "JW322")


def test_several_errors_are_reported_in_line_order() -> None:
    """All schema errors are reported, sorted by line; file-level ones last."""
    data = replace_field(B7, 8, "TYPE_VERWIJZER", "99")
    data = replace_field(data, 2, "GESLACHT", "5")
    data = with_records(records(data)[:-1])
    verdict = check(data)
    assert findings(verdict) == [
        ("EI015", "/JW321/R02[2]/GESLACHT"),
        ("EI015", "/JW321/R04[8]/TYPE_VERWIJZER"),
        ("EI012", "/JW321"),
    ]


def test_findings_are_capped_per_code() -> None:
    """A file of many bad records reports at most MAX_FINDINGS_PER_CODE findings of one code."""
    bad_line = records(replace_field(B7, 3, "TYPE_VERWIJZER", "99"))[2]
    lines = [
        bad_line[:2] + f"{n:012d}".encode() + bad_line[14:] for n in range(2, MAX_FINDINGS_PER_CODE + 22)
    ]
    parts = [R[0], R[1], *lines, R[-1]]
    verdict = check(with_records(parts))
    assert verdict.stage is Stage.SCHEMA
    assert [e.code for e in verdict.errors] == ["EI015"] * MAX_FINDINGS_PER_CODE


def test_markup_characters_in_any_field() -> None:
    """&, < and > are ordinary characters of a record: in a comment they are valid and kept, in an N or D
    field they are a format error (the canonical tree escapes them; nothing breaks)."""
    text = "A&B <C> D"
    checked = validator().check(replace_field(B7, 4, "VRIJE_TEKST", text), "m", today=TODAY)
    assert checked.verdict.valid
    assert isinstance(checked.message, EiMessage)
    assert checked.message.comments[0].vrije_tekst == text
    verdict = check(
        replace_field(
            replace_field(B7, 1, "CODE_INFORMATIESYSTEEM", "0&<>01"), 2, "GEBOORTEDATUM", "2008&<>1"
        )
    )
    assert findings(verdict) == [
        ("EI013", "/JW321/R01[1]/CODE_INFORMATIESYSTEEM"),
        ("EI013", "/JW321/R02[2]/GEBOORTEDATUM"),
    ]


def test_parser_streams_into_one_tree() -> None:
    """parse_records builds the tree only (no findings for a valid file) and keeps line numbers."""
    parsed = parse_records(B7.decode("ascii"), load_layout("JW321", ()))
    assert parsed.findings == []
    assert parsed.unread == frozenset()
    assert [int(el.get("line") or 0) for el in parsed.root] == list(range(1, 10))
    assert etree.QName(parsed.root).namespace == "urn:jwmo-gateway:ei:jw321"


class _SilentlyFailingSchema:
    """A schema that rejects everything without an error entry (libxml2 has been seen to do this)."""

    error_log: tuple[object, ...] = ()

    def validate(self, _root: object) -> bool:
        return False


def test_invalid_without_error_entries_is_still_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the XSD rejects the tree but names no error, the file is still a schema failure (EI012 /JW321),
    never read as valid."""
    from gateway.fixedwidth import stage  # noqa: PLC0415

    monkeypatch.setattr(stage, "_schema", lambda *_args: _SilentlyFailingSchema())
    assert_verdict(check(B7), Stage.SCHEMA, [("EI012", "/JW321")])
