"""wf's benchmark harness: ``python -m bench [NAME...] [--quick]`` (see bench/README.md)."""
