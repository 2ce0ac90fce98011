"""Echo rules: a JW325 / WMO325 checked against the 323 it answers (``validate --declaration``)."""

from __future__ import annotations

from gateway.model import Answer, Declaration, Line, client_path, line_path
from gateway.rules.registry import Context, Issue, Subject, rule

HEADER = "/Bericht/Header"
BODY = "/Bericht/DeclaratieAntwoord"


def _pair(s: Subject, ctx: Context) -> tuple[Answer, Declaration]:
    assert isinstance(s.message, Answer)  # noqa: S101 - registry guarantees the kind
    assert ctx.declaration is not None  # noqa: S101 - echo rules run only with a declaration
    return s.message, ctx.declaration


@rule("TR337", None, "Header", ("echo",), "DeclaratieIdentificatie equals the 323's BerichtIdentificatie")
def declaration_id_echoed(s: Subject, ctx: Context) -> list[Issue]:
    answer, decl = _pair(s, ctx)
    if answer.declaration_id != (decl.header.message_id, decl.header.message_date):
        return [(f"{HEADER}/DeclaratieIdentificatie", "does not identify the answered declaration message")]
    return []


@rule("TR371", None, "Header", ("echo",), "XsdVersieDeclaratie equals the 323's XsdVersie")
def xsd_version_echoed(s: Subject, ctx: Context) -> list[Issue]:
    answer, decl = _pair(s, ctx)
    if answer.declaration_xsd_version != decl.header.xsd_version:
        return [
            (f"{HEADER}/XsdVersieDeclaratie", "does not equal the XSD version of the answered declaration")
        ]
    return []


@rule("TR376", None, "Declaratie", ("echo",), "DeclaratieNummer equals the 323's DeclaratieNummer")
def number_echoed(s: Subject, ctx: Context) -> list[Issue]:
    answer, decl = _pair(s, ctx)
    if answer.body is not None and answer.body.number != decl.number:
        return [(f"{BODY}/DeclaratieNummer", "does not equal the number of the answered declaration")]
    return []


def _echo_fields(line: Line) -> tuple[object, ...]:
    return line[2:14]  # reference .. debit_credit: every value of the 323 line


@rule("TR366", "9366", "Prestatie", ("echo",), "every returned Prestatie occurs in the answered 323")
def returned_line_exists(s: Subject, ctx: Context) -> list[Issue]:
    answer, decl = _pair(s, ctx)
    if answer.body is None:
        return []
    known = {line.reference for c in decl.clients for line in c.lines}
    return [
        (
            line_path(BODY, answer.body.clients, line, "ProductReferentie/ReferentieNummer"),
            "no line with this reference in the answered declaration",
        )
        for c in answer.body.clients
        for line in c.lines
        if line.reference not in known
    ]


@rule(
    "TR367",
    "9367",
    "Prestatie",
    ("echo",),
    "a returned Prestatie (and its Bsn) is copied unchanged from the 323",
)
def returned_line_unchanged(s: Subject, ctx: Context) -> list[Issue]:
    answer, decl = _pair(s, ctx)
    if answer.body is None:
        return []
    originals: dict[str, list[tuple[str, tuple[object, ...]]]] = {}
    for c in decl.clients:
        for line in c.lines:
            originals.setdefault(line.reference, []).append((c.bsn, _echo_fields(line)))
    issues = []
    for c in answer.body.clients:
        for line in c.lines:
            candidates = originals.get(line.reference)
            if candidates is None:
                continue  # TR366
            if (c.bsn, _echo_fields(line)) not in candidates:
                path = line_path(BODY, answer.body.clients, line)
                if all(bsn != c.bsn for bsn, _ in candidates):
                    path = f"{client_path(BODY, answer.body.clients, c.position)}/Bsn"
                issues.append(
                    (path, "differs from the line with the same reference in the answered declaration")
                )
    return issues
