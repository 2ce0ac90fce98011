"""The rule table of ``docs/rules.md``, generated from the registry so the docs cannot drift."""

from __future__ import annotations

from gateway.rules import all_rules

__all__ = ["markdown_table"]

_KIND_NAMES = {"declaration": "323", "answer": "325", "echo": "325 vs 323"}


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
        kinds = ", ".join(_KIND_NAMES[k] for k in _KIND_NAMES if k in r.kinds)
        lines.append(
            f"| {r.code} | {r.retourcode or '-'} | {r.message_class} | {kinds} | {r.release} | {r.title} |"
        )
    lines.append("")
    return "\n".join(lines)
