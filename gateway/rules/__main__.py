"""``python -m gateway.rules``: print the rule table (Markdown) generated from the registry."""

from __future__ import annotations

import sys

from gateway.rules.table import markdown_table

sys.stdout.write(markdown_table())
