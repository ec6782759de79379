"""Runnable examples of ``wf`` workflows, each exercised end to end by ``tests/examples``.

Run one from a shell with the CLI, for instance::

    wf run examples.countdown:countdown 5 --run-id demo
    wf run examples.pipeline:process_document '{"id": "d-1", "title": "Hello", "body": "..."}'

Every example keeps its "services" in memory (or in a local file) so that it runs
anywhere. Each module counts how often its steps ran in a module-level ``CALLS``
counter, which is how the tests check that a completed step never runs twice.

* :mod:`examples.pipeline`: validate, process and store a document; bad input is a
  ``wf.FatalError`` that fails the run without retries.
* :mod:`examples.parallel_fetch`: three independent steps in parallel with
  ``asyncio.gather``.
* :mod:`examples.race_timeout`: ``wf.race`` a slow step against a durable
  ``wf.sleep`` deadline, with a fallback.
* :mod:`examples.order_saga`: a saga; when a late step fails after its retries, the
  earlier steps are compensated (refund, release stock), each compensation a step.
* :mod:`examples.bulk_import`: per-item error handling; one bad record does not sink
  the batch.
* :mod:`examples.countdown`: the README demo; kill it half-way and run it again.
"""
