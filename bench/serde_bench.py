"""Micro-benchmark of wf's tagged-JSON serde: µs per dumps + loads round trip.

    .venv/bin/python bench/serde_bench.py [--number N] [--json PATH]

Every step result and argument goes through this code, so the small-dict
round trip is the figure to watch (budget: 5 µs).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import timeit
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from wf.runtime._serde import dumps, loads

SMALL = {"order_id": "ord_12345", "amount": 4200, "currency": "usd", "paid": True, "fee": 1.25}
SMALL_TAGGED = {
    "order_id": "ord_12345",
    "amount": 4200,
    "charged_at": dt.datetime(2030, 1, 1, 9, 30, tzinfo=dt.UTC),
}


def nested_plain() -> dict[str, Any]:
    return {
        "order": {"id": "ord_12345", "customer": {"id": 981, "name": "Ada", "vip": False}},
        "items": [
            {"sku": f"SKU-{i:04d}", "qty": i % 3 + 1, "price": 9.99 + i, "tags": ["a", "b"]}
            for i in range(10)
        ],
        "totals": {"net": 182.4, "tax": 34.66, "gross": 217.06, "currency": "eur"},
        "notes": None,
    }


def nested_tagged() -> dict[str, Any]:
    value = nested_plain()
    value["created"] = dt.datetime(2030, 1, 1, 9, 30, 0, 123, tzinfo=dt.UTC)
    value["id"] = uuid.UUID(int=12345)
    value["totals"]["gross"] = Decimal("217.06")
    value["items"][0]["dims"] = (10, 20, 30)
    return value


def measure(value: Any, number: int) -> tuple[float, float | None]:
    """Best µs per wf round trip, and per stdlib json round trip where json can write it."""

    def round_trip() -> Any:
        return loads(dumps(value))

    def stdlib_round_trip() -> Any:
        return json.loads(json.dumps(value))

    if round_trip() != value:
        raise SystemExit(f"round trip changed the value: {value!r}")
    best = min(timeit.repeat(round_trip, number=number, repeat=7))
    try:
        json.dumps(value)
    except TypeError:
        return best / number * 1e6, None
    stdlib = min(timeit.repeat(stdlib_round_trip, number=number, repeat=7))
    return best / number * 1e6, stdlib / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=50_000, help="round trips per timing")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    ns = parser.parse_args()
    cases = {
        "small_dict": SMALL,
        "small_dict_tagged": SMALL_TAGGED,
        "nested_1kb_plain": nested_plain(),
        "nested_1kb_tagged": nested_tagged(),
    }
    results = {}
    for name, value in cases.items():
        size = len(dumps(value))
        number = ns.number if size < 200 else max(ns.number // 10, 1000)
        micros, stdlib = measure(value, number)
        results[name] = {
            "bytes": size,
            "us_per_round_trip": round(micros, 3),
            "stdlib_json_us": None if stdlib is None else round(stdlib, 3),
        }
        reference = "" if stdlib is None else f"   (json.dumps+json.loads: {stdlib:.2f} µs)"
        print(f"{name:20} {size:6d} B  {micros:8.2f} µs per dumps+loads{reference}")
    if ns.json is not None:
        ns.json.write_text(
            json.dumps(
                {"python": sys.version.split()[0], "machine": platform.machine(), **results},
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
