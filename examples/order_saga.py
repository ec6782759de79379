"""An order saga: charge, reserve, ship; undo what was done if a later step fails.

Each forward step that succeeds pushes its compensation (refund the charge,
release the stock) onto a stack. When a later step fails for good (after its
retries), the workflow catches the step's own exception type and runs the
compensations in reverse order, each one a step, so they are durable and
retried like any other: a crash half-way through compensating resumes the
compensation, it does not start the order again.

Choice made here: a compensated order is a business outcome, not a crash, so
the run *completes* and returns ``{"status": "compensated", ...}`` with the
reason. The failure itself stays visible in the run's event log
(``step_failed``). Re-raise after compensating instead if callers should see
the run as ``failed``.

``fail_at`` injects a fault for the demo: ``"reserve"`` (out of stock),
``"ship"`` (carrier down on every attempt) or ``"ship-once"`` (a transient
carrier error that the retry absorbs).

    wf run examples.order_saga:process_order o-1 2500 '["book"]' --kwargs '{"fail_at": "ship"}'
"""

from __future__ import annotations

import collections
import itertools
from typing import Any

import wf

# In-memory stand-ins for the payment provider, the warehouse and the carrier.
PAYMENTS: dict[str, dict[str, Any]] = {}
STOCK: collections.Counter[str] = collections.Counter()
RESERVATIONS: dict[str, dict[str, Any]] = {}
SHIPMENTS: dict[str, str] = {}
_ids = itertools.count(1)

#: How many times each step ran (the tests check it).
CALLS: collections.Counter[str] = collections.Counter()


def reset(stock: dict[str, int] | None = None) -> None:
    """Empty every service and stock the warehouse (the tests call this)."""
    for state in (PAYMENTS, STOCK, RESERVATIONS, SHIPMENTS, CALLS):
        state.clear()
    STOCK.update(stock if stock is not None else {"book": 10, "lamp": 3})


class OrderError(Exception):
    """A failure that ends the forward path of an order."""


class OutOfStockError(OrderError, wf.FatalError):
    """Retrying will not add stock: as a ``wf.FatalError`` it fails the step at once."""


class ShippingError(OrderError):
    """The carrier may be back in a moment: retried like any exception."""


# -- forward steps -------------------------------------------------------------------


async def charge_payment(order_id: str, amount: int) -> str:
    "use step"
    CALLS["charge_payment"] += 1
    payment_id = f"pay-{next(_ids)}"
    PAYMENTS[payment_id] = {"order_id": order_id, "amount": amount, "status": "charged"}
    return payment_id


async def reserve_inventory(order_id: str, items: list[str], fail: bool = False) -> str:
    "use step"
    CALLS["reserve_inventory"] += 1
    wanted = collections.Counter(items)
    short = sorted(item for item, count in wanted.items() if STOCK[item] < count)
    if fail or short:
        raise OutOfStockError(f"not enough stock for {', '.join(short) or 'the order'}")
    STOCK.subtract(wanted)
    reservation_id = f"res-{next(_ids)}"
    RESERVATIONS[reservation_id] = {"order_id": order_id, "items": dict(wanted)}
    return reservation_id


@wf.options(max_attempts=2, initial_interval="10ms")
async def ship_order(order_id: str, reservation_id: str, failing_attempts: int = 0) -> str:
    "use step"
    CALLS["ship_order"] += 1
    if wf.get_step_metadata().attempt <= failing_attempts:
        raise ShippingError("carrier API unavailable")  # retried once, 10 ms later
    tracking = f"track-{next(_ids)}"
    SHIPMENTS[order_id] = tracking
    return tracking


# -- compensations -------------------------------------------------------------------


async def refund_payment(payment_id: str) -> None:
    "use step"
    CALLS["refund_payment"] += 1
    PAYMENTS[payment_id]["status"] = "refunded"  # idempotent: safe to run twice


async def release_inventory(reservation_id: str) -> None:
    "use step"
    CALLS["release_inventory"] += 1
    reservation = RESERVATIONS.pop(reservation_id, None)  # idempotent: released once
    if reservation is not None:
        STOCK.update(reservation["items"])


# -- the workflow --------------------------------------------------------------------


async def process_order(
    order_id: str, amount: int, items: list[str], fail_at: str | None = None
) -> dict[str, Any]:
    "use workflow"
    undo: list[tuple[Any, str]] = []  # (compensation step, its argument), most recent last
    try:
        payment_id = await charge_payment(order_id, amount)
        undo.append((refund_payment, payment_id))

        reservation_id = await reserve_inventory(order_id, items, fail=fail_at == "reserve")
        undo.append((release_inventory, reservation_id))

        failing = {"ship": 2, "ship-once": 1}.get(fail_at or "", 0)
        tracking = await ship_order(order_id, reservation_id, failing_attempts=failing)
    except OrderError as exc:
        # The step's own exception type reaches the workflow once its retries are spent.
        for compensate, argument in reversed(undo):
            await compensate(argument)
        return {
            "order_id": order_id,
            "status": "compensated",
            "reason": f"{type(exc).__name__}: {exc}",
            "compensations": [compensate.__name__ for compensate, _ in reversed(undo)],
        }
    return {"order_id": order_id, "status": "shipped", "payment": payment_id, "tracking": tracking}
