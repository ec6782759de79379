"""Workflow modules used by the tests (compiled by the import hook installed in conftest)."""
