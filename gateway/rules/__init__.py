"""In-message business rules of the 3.2 declaration family.

Importing this package registers every rule (the modules register themselves with the decorator in
:mod:`gateway.rules.registry`).
"""

# Registration order is report order: message-level rules first, then line rules, then 325 rules.
from gateway.rules import declaration, lines, answer, echo, legacy_xml, jw321  # noqa: I001
from gateway.rules.registry import Context, Rule, Subject, all_rules, run_rules

__all__ = [
    "Context",
    "Rule",
    "Subject",
    "all_rules",
    "answer",
    "declaration",
    "echo",
    "jw321",
    "legacy_xml",
    "lines",
    "run_rules",
]
