"""One figure of a benchmark as a dict (one JSON line). No wf import: the DBOS peer uses it too."""

from __future__ import annotations

from typing import Any


def _sig(x: float) -> float:
    """Four significant digits: enough for a benchmark, short in JSON."""
    return float(f"{x:.4g}")


def figure(
    bench: str,
    value: float,
    unit: str,
    budget: str,
    *,
    ok: bool | None = None,
    ratio: float | None = None,
    reference: dict[str, Any] | None = None,
    **detail: Any,
) -> dict[str, Any]:
    return {
        "bench": bench,
        "value": _sig(value),
        "unit": unit,
        "budget": budget,
        "reference": reference or {},
        "ratio": None if ratio is None else _sig(ratio),
        "ok": ok,
        "detail": {k: (_sig(v) if isinstance(v, float) else v) for k, v in detail.items()},
    }
