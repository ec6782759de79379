"""Workflow modules and helpers used by the tests (compiled by the import hook in conftest)."""
