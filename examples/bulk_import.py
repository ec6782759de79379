"""Import a batch of records, one step per record, keeping going when some fail.

Each record is its own step inside a ``try/except``: a record that fails for good
(after its retries) is collected with its error and the loop moves on. The
imported records are recorded one by one, so a crash in the middle of a batch of
thousands resumes at the first record not yet done.

Two kinds of failure are shown. Bad data raises ``InvalidRecordError``, a
``wf.FatalError``: retrying cannot fix it, so it fails at once. A busy database
raises ``wf.RetryableError(retry_after=...)``: the step is retried after that
delay (a durable wait), and the record usually goes through on the next attempt.

    wf run examples.bulk_import:import_records '[{"sku": "a-1", "name": "Anvil", "price": 100}]'
"""

from __future__ import annotations

import collections
from typing import Any

import wf

#: The product table: an in-memory stand-in for a database.
PRODUCTS: dict[str, dict[str, Any]] = {}
#: SKUs whose first write hits a lock timeout (the tests use it to simulate contention).
CONTENDED: set[str] = set()
#: How many times each record's step ran, by SKU (the tests check it).
CALLS: collections.Counter[str] = collections.Counter()


def reset() -> None:
    PRODUCTS.clear()
    CONTENDED.clear()
    CALLS.clear()


class InvalidRecordError(wf.FatalError):
    """The record itself is wrong; retrying cannot help."""


@wf.options(max_attempts=3, initial_interval="10ms")
async def import_record(record: dict[str, Any]) -> str:
    "use step"
    sku = str(record.get("sku", "?"))
    CALLS[sku] += 1
    if not record.get("name"):
        raise InvalidRecordError(f"{sku}: missing name")
    price = record.get("price")
    if not isinstance(price, int) or price < 0:
        raise InvalidRecordError(f"{sku}: price must be a non-negative integer (cents)")
    if sku in CONTENDED:
        CONTENDED.discard(sku)
        raise wf.RetryableError(f"{sku}: lock timeout", retry_after="20ms")
    PRODUCTS[sku] = {"name": record["name"], "price": price}  # upsert: safe to repeat
    return sku


async def import_records(records: list[dict[str, Any]]) -> dict[str, Any]:
    "use workflow"
    imported: list[str] = []
    failed: list[dict[str, str]] = []
    for record in records:
        try:
            imported.append(await import_record(record))
        except InvalidRecordError as exc:  # the step's own exception type, rebuilt
            failed.append({"sku": str(record.get("sku", "?")), "error": str(exc)})
    return {"imported": imported, "failed": failed, "total": len(records)}
