"""Tests of the fixed-width EI files JW321 / JW322 (legacy-formats.md B, C, E)."""
