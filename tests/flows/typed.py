"""A workflow with annotated parameters, for input validation."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Literal


class Priority(enum.Enum):
    LOW = "low"
    HIGH = "high"


@dataclass
class Address:
    city: str


async def echo(value: Any) -> Any:
    "use step"
    return value


async def order(
    order_id: str,
    amount: float,
    items: list[str],
    quantities: dict[str, int],
    note: str | None = None,
    mode: Literal["fast", "slow"] = "fast",
    priority: Priority = Priority.LOW,
    ship_to: Address | None = None,
    extra: Any = None,
) -> str:
    "use workflow"
    return await echo(f"{order_id}:{amount}:{len(items)}:{mode}:{priority.value}")
