"""The rule table of ``docs/rules.md``, generated from the registry so the docs cannot drift."""

from __future__ import annotations

from gateway.rules import all_rules

__all__ = ["markdown_table"]

# What a rule kind means per release, in message-type terms.
_KIND_NAMES = {
    "3.2": {"declaration": "323", "answer": "325", "echo": "325 vs 323"},
    "2.1": {"declaration": "303", "answer": "304"},
    "ei-2.0": {"declaration": "JW321", "answer": "JW322"},
}


def markdown_table() -> str:
    lines = [
        "# Business rules checked by jwmo-gateway",
        "",
        "Generated from the rule registry (`python -m gateway.rules > docs/rules.md`); do not edit by hand.",
        "",
        "Each rule reports its official code and WJ001 retourcode on the message class named here. Rules of",
        "kind `325 vs 323` run only when `validate --declaration JW323FILE` names the answered declaration.",
        "A retourcode of `-` means the rule has none (the national chain cannot answer it).",
        "",
        "| code | retourcode | class | checked on | release | rule |",
        "|---|---|---|---|---|---|",
    ]
    for r in sorted(all_rules(), key=lambda r: (r.release, r.code, r.message_class)):
        names = _KIND_NAMES.get(r.release, {})
        kinds = ", ".join(names.get(k, k) for k in ("declaration", "answer", "echo") if k in r.kinds)
        lines.append(
            f"| {r.code} | {r.retourcode or '-'} | {r.message_class} | {kinds} | {r.release} | {r.title} |"
        )
    lines.append("")
    return "\n".join(lines)
