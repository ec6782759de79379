"""The wf compiler: LibCST passes, diagnostics, `wf build`, the import hook and its cache."""
