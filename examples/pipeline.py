"""A validate → process → store pipeline.

Each stage is a step: its result is written to the event log before the next
stage starts, so a crash after ``process`` resumes at ``store`` without
processing the document again. Invalid input raises ``wf.FatalError``, which
is never retried: the run fails at once with the validation message.

    wf run examples.pipeline:process_document '{"id": "d-1", "title": "Hi", "body": "..."}'
"""

from __future__ import annotations

import collections
import hashlib
from typing import Any

import wf

#: The document store: an in-memory stand-in for a database table.
DOCUMENTS: dict[str, dict[str, Any]] = {}
#: How many times each step ran (the tests check it).
CALLS: collections.Counter[str] = collections.Counter()


def reset() -> None:
    DOCUMENTS.clear()
    CALLS.clear()


async def validate(doc: dict[str, Any]) -> dict[str, Any]:
    "use step"
    CALLS["validate"] += 1
    problems = [
        f"{field!r} must be a non-empty string"
        for field in ("id", "title", "body")
        if not isinstance(doc.get(field), str) or not doc[field].strip()
    ]
    if problems:
        # Retrying cannot fix bad input: FatalError fails the step (and the run) at once.
        raise wf.FatalError("invalid document: " + "; ".join(problems))
    return {"id": doc["id"], "title": doc["title"].strip(), "body": doc["body"].strip()}


async def process(doc: dict[str, Any]) -> dict[str, Any]:
    "use step"
    CALLS["process"] += 1
    words = doc["body"].split()
    return {
        **doc,
        "words": len(words),
        "summary": " ".join(words[:12]),
        "checksum": hashlib.sha256(doc["body"].encode()).hexdigest()[:16],
    }


async def store(doc: dict[str, Any]) -> str:
    "use step"
    CALLS["store"] += 1
    # Idempotent write, keyed by the document id: a step interrupted after the write
    # but before its result was recorded runs again, and must not store twice.
    DOCUMENTS[doc["id"]] = doc
    return f"documents/{doc['id']}"


async def process_document(doc: dict[str, Any]) -> dict[str, Any]:
    "use workflow"
    clean = await validate(doc)
    processed = await process(clean)
    location = await store(processed)
    return {"location": location, "words": processed["words"], "checksum": processed["checksum"]}
