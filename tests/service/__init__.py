"""Tests of the service adapters (HTTP intake)."""
