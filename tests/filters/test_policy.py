"""Loading policy files: the default policy, and every kind of broken policy rejected at load time."""

from __future__ import annotations

from pathlib import Path

import pytest

from filters.fields import ATTRIBUTES, BILLING_FIELDS, LINE_FIELDS, MESSAGE_FIELDS
from filters.policy import PolicyError, default_policy, load_policy, parse_policy

HEAD = 'policy_version = "t1"\n'
KEEP = '[[rule]]\nid = "keep-all"\naction = "keep"\nfield = ["reference", "amount_cents"]\n'


def rejected(text: str) -> str:
    """The message of the PolicyError raised for ``text``."""
    with pytest.raises(PolicyError) as info:
        parse_policy(text, name="test.toml")
    return str(info.value)


class TestDefaultPolicy:
    def test_loads_with_version_and_rules(self) -> None:
        """The shipped policy loads, carries a version and cites the decision-table row of every rule."""
        policy = default_policy()
        assert policy.version == "1.0.0"
        assert len(policy.rules) >= 10
        assert all(rule.implements for rule in policy.rules)
        assert all(rule.description for rule in policy.rules)

    def test_rule_ids_follow_d5_for_jw321(self) -> None:
        """The JW321 rules carry the audit rule ids of legacy-formats.md D.5."""
        ids = {rule.id for rule in default_policy().rules}
        d5 = {
            "jw321-dsm-drop",
            "jw321-comment-drop",
            "jw321-diagnosis-none",
            "jw321-diagnosis-main-group",
            "jw321-zorgvraagzwaarte",
            "jw321-judicial-zorgtype",
            "jw321-judicial-verwijzer",
            "jw321-optout-restrict",
        }
        assert d5 <= ids

    def test_allow_list_omits_main_group(self) -> None:
        """diagnosis_main_group is kept only by the JW321 row-3 rule, never by the general allow-list."""
        policy = default_policy()
        allow = policy.rule("billing-allow-list")
        assert "diagnosis_main_group" not in allow.fields
        keepers = [r.id for r in policy.rules if r.action == "keep" and "diagnosis_main_group" in r.fields]
        assert keepers == ["jw321-main-group-billing"]

    def test_load_policy_reads_a_file(self, tmp_path: Path) -> None:
        """load_policy reads a path and names the file in its errors."""
        path = tmp_path / "mine.toml"
        path.write_text(HEAD + KEEP, encoding="utf-8")
        assert load_policy(path).version == "t1"
        path.write_text("policy_version = 1\n", encoding="utf-8")
        with pytest.raises(PolicyError, match=r"mine\.toml"):
            load_policy(path)

    def test_missing_file(self, tmp_path: Path) -> None:
        """An unreadable file is a PolicyError naming the path."""
        with pytest.raises(PolicyError, match="cannot read policy"):
            load_policy(tmp_path / "absent.toml")


BROKEN: list[tuple[str, str, str]] = [
    # (name, policy text, expected fragment of the message)
    ("toml", HEAD + "[[rule]\n", "not valid TOML"),
    ("no-version", KEEP, "policy_version is required"),
    ("no-rules", HEAD, "at least one [[rule]]"),
    ("top-key", HEAD + "colour = 1\n" + KEEP, 'unknown key "colour"'),
    ("no-id", HEAD + '[[rule]]\naction = "keep"\nfield = "reference"\n', "rule #1: id is missing"),
    ("bad-id", HEAD + '[[rule]]\nid = "Has Space"\naction = "keep"\nfield = "reference"\n', "rule #1: id"),
    ("dup-id", HEAD + KEEP + KEEP, 'rule "keep-all" (#2): the id is used by an earlier rule'),
    (
        "action",
        HEAD + '[[rule]]\nid = "x"\naction = "remove"\nfield = "reference"\n',
        "action must be one of",
    ),
    (
        "rule-key",
        HEAD + '[[rule]]\nid = "x"\naction = "keep"\nfield = "reference"\ntable = "t"\n',
        'key "table"',
    ),
    ("field", HEAD + '[[rule]]\nid = "x"\naction = "drop"\nfield = "colour"\n', 'unknown field "colour"'),
    ("no-field", HEAD + '[[rule]]\nid = "x"\naction = "drop"\n', "field must be a field name"),
    (
        "keep-source",
        HEAD + '[[rule]]\nid = "x"\naction = "keep"\nfield = "zorgtype"\n',
        "keep applies to billing",
    ),
    ("keep-flag", HEAD + '[[rule]]\nid = "x"\naction = "keep"\nfield = "special_category"\n', "set by tag"),
    ("tag-field", HEAD + '[[rule]]\nid = "x"\naction = "tag"\nfield = "reference"\n', "tag sets only flag"),
    (
        "twice",
        HEAD + '[[rule]]\nid = "x"\naction = "drop"\nfield = ["reference", "reference"]\n',
        "listed twice",
    ),
    (
        "attribute",
        HEAD + '[[rule]]\nid = "x"\nmatch = { colour = "red" }\naction = "drop"\nfield = "reference"\n',
        'unknown attribute "colour"',
    ),
    (
        "int-code",
        HEAD
        + '[[rule]]\nid = "x"\nmatch = { product_category = 51 }\naction = "drop"\nfield = "reference"\n',
        "quote codes",
    ),
    (
        "bool-attr",
        HEAD + '[[rule]]\nid = "x"\nmatch = { optout = "yes" }\naction = "drop"\nfield = "reference"\n',
        "must be true or false",
    ),
    (
        "empty-list",
        HEAD + '[[rule]]\nid = "x"\nmatch = { message_type = [] }\naction = "drop"\nfield = "reference"\n',
        "empty list",
    ),
    (
        "coarsen-table",
        HEAD + '[[rule]]\nid = "x"\naction = "coarsen"\nfield = "zorgtype"\ntable = "nope"\n',
        "known code table",
    ),
    (
        "coarsen-value",
        HEAD
        + '[tables.t]\na = "b"\n[[rule]]\nid = "x"\naction = "coarsen"\nfield = "zorgtype"\ntable = "t"\n'
        + 'unmapped = "neutralise"\n',
        'value is required with unmapped = "neutralise"',
    ),
    (
        "coarsen-source",
        HEAD
        + '[tables.t]\na = "b"\n[[rule]]\nid = "x"\naction = "coarsen"\nfield = "zorgtype"\ntable = "t"\n'
        'source = "colour"\n',
        "source must name a field or an attribute",
    ),
    (
        "neutralise",
        HEAD + '[[rule]]\nid = "x"\naction = "neutralise"\nfield = "zorgtype"\n',
        "neutralise needs value",
    ),
    (
        "value-from",
        HEAD + '[[rule]]\nid = "x"\naction = "neutralise"\nfield = "zorgtype"\nvalue_from = "optout"\n',
        "value_from must name a string attribute",
    ),
    (
        "value-type",
        HEAD + '[[rule]]\nid = "x"\naction = "neutralise"\nfield = "zorgtype"\nvalue = [1]\n',
        "value must be a string",
    ),
    (
        "target",
        HEAD + '[[rule]]\nid = "x"\naction = "drop"\nfield = "reference"\ntarget = "finance"\n',
        "target must be",
    ),
    (
        "target-source",
        HEAD + '[[rule]]\nid = "x"\naction = "drop"\nfield = "zorgtype"\ntarget = "billing"\n',
        "changes nothing",
    ),
    (
        "withhold",
        HEAD + '[[rule]]\nid = "x"\naction = "restrict"\nwithhold = ["colour"]\n',
        'withhold names "colour"',
    ),
    (
        "withhold-restricted",
        HEAD + '[[rule]]\nid = "x"\naction = "restrict"\nwithhold = ["restricted"]\n',
        'withhold names "restricted"',
    ),
    (
        "scope",
        HEAD + '[[rule]]\nid = "x"\nscope = "file"\naction = "drop"\nfield = "comments"\n',
        "scope must be",
    ),
    (
        "message-keep",
        HEAD + '[[rule]]\nid = "x"\nscope = "message"\naction = "keep"\nfield = "comments"\n',
        "message-scope rule can only",
    ),
    (
        "message-field",
        HEAD + '[[rule]]\nid = "x"\nscope = "message"\naction = "drop"\nfield = "reference"\n',
        'unknown field "reference" for scope "message"',
    ),
    (
        "message-target",
        HEAD
        + '[[rule]]\nid = "x"\nscope = "message"\naction = "drop"\nfield = "comments"\ntarget = "message"\n',
        "leave out target",
    ),
    (
        "audit",
        HEAD + '[[rule]]\nid = "x"\naction = "drop"\nfield = "reference"\naudit = "no"\n',
        "audit must be",
    ),
    ("table-shape", HEAD + "[tables.t]\na = 1\n" + KEEP, 'table "t"'),
    (
        "domain",
        HEAD + '[[rule]]\nid = "x"\naction = "pseudonymise"\nfield = "client_bsn"\ndomain = ""\n',
        "domain",
    ),
]


class TestBrokenPolicies:
    @pytest.mark.parametrize(
        ("text", "expected"), [(t, e) for _, t, e in BROKEN], ids=[n for n, _, _ in BROKEN]
    )
    def test_rejected_naming_rule_and_problem(self, text: str, expected: str) -> None:
        """Every broken policy is rejected at load; the message names the file, the rule and the problem."""
        message = rejected(text)
        assert "test.toml" in message
        assert expected in message

    def test_all_problems_are_listed(self) -> None:
        """Several broken rules are reported together, each by its id."""
        text = (
            HEAD
            + '[[rule]]\nid = "first"\naction = "drop"\nfield = "colour"\n'
            + '[[rule]]\nid = "second"\naction = "remove"\n'
        )
        message = rejected(text)
        assert 'rule "first" (#1)' in message
        assert 'rule "second" (#2)' in message

    def test_passed_in_table_clashing_with_inline_table(self) -> None:
        """A table defined in the file and also passed in is ambiguous: rejected."""
        text = HEAD + '[tables.t]\na = "b"\n' + KEEP
        with pytest.raises(PolicyError, match='table "t"'):
            parse_policy(text, tables={"t": {"x": "y"}})

    def test_passed_in_table_usable(self) -> None:
        """A code table passed in by the caller can be named by a coarsen rule."""
        text = HEAD + '[[rule]]\nid = "c"\naction = "coarsen"\nfield = "zorgtype"\ntable = "external"\n'
        policy = parse_policy(text, tables={"external": {"110": "101"}})
        assert policy.tables["external"].get("110") == "101"


class TestVocabulary:
    def test_billing_fields_are_the_contract(self) -> None:
        """The billing field names and order are those of interfaces.md (plus restricted at the end)."""
        assert BILLING_FIELDS[0] == "message_type"
        assert BILLING_FIELDS[-1] == "restricted"
        assert len(BILLING_FIELDS) == len(set(BILLING_FIELDS)) == 22

    def test_vocabularies_do_not_overlap(self) -> None:
        """Message fields and line fields are distinct; every attribute has a kind."""
        assert not (MESSAGE_FIELDS & LINE_FIELDS)
        assert set(ATTRIBUTES.values()) <= {"str", "bool"}

    def test_match_attributes_of_default_policy(self) -> None:
        """The decision inputs of the default policy: what the engine caches plans by."""
        attributes = default_policy().match_attributes
        assert "optout" in attributes
        assert "product_code" not in attributes  # codes matter through the municipal table flags only
