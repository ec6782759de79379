"""A human approval with a deadline: a typed hook raced against ``wf.sleep("7 days")``.

The workflow asks a manager (a step sends the hook's token), then waits for
whichever comes first: a ``Decision`` resumed on the hook, or seven days. The
hook is typed, so ``wf.resume_hook`` refuses a payload that is not a Decision
(naming the field) before anything is recorded, and the workflow receives a
``Decision`` instance. The wait is durable: the run is evicted while it waits
and replayed on any worker when the answer or the deadline comes.

    wf run examples.approval:approve_expense e-1 250 --detach
    wf hooks resume approve:e-1 '{"approved": true, "by": "ann"}'
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Any

import wf

#: How many times each step ran (the tests check it).
CALLS: collections.Counter[str] = collections.Counter()


@dataclass
class Decision:
    approved: bool
    by: str
    comment: str = ""


async def ask_manager(expense_id: str, amount: int, token: str) -> None:
    "use step"
    CALLS["ask_manager"] += 1  # stands in for an email or a chat message with the token


async def pay(expense_id: str, amount: int) -> str:
    "use step"
    CALLS["pay"] += 1
    return f"paid {expense_id}: {amount}"


async def approve_expense(expense_id: str, amount: int) -> dict[str, Any]:
    "use workflow"
    hook = wf.create_hook(token=f"approve:{expense_id}", type=Decision)
    await ask_manager(expense_id, amount, hook.token)
    decision = await wf.race(hook, wf.sleep("7 days"))
    if decision is None:
        return {"expense": expense_id, "status": "expired"}
    if not decision.approved:
        return {"expense": expense_id, "status": "rejected", "by": decision.by}
    receipt = await pay(expense_id, amount)
    return {"expense": expense_id, "status": "paid", "by": decision.by, "receipt": receipt}
