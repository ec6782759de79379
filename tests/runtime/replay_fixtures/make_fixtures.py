"""Regenerate the committed replay fixtures (run by hand, never by the tests):

    .venv/bin/python tests/runtime/replay_fixtures/make_fixtures.py
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE.parents[2]), str(HERE.parents[1])]

import wf  # noqa: E402

wf.install_import_hook()

from flows import replay  # noqa: E402

ORDER = {"id": "o-17", "total": 4200, "items": ["book", "lamp"]}


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with wf.Engine(f"sqlite:///{tmp}/wf.db", poll_interval=0.01) as engine:
            run = await engine.start(replay.order_flow, ORDER, run_id="fixture-order-1")
            result = await run.result(timeout=30)
            events = [
                [e.seq, e.kind, e.cid, e.name, e.data, e.at] async for e in run.events()
            ]
    base = {"run_id": "fixture-order-1", "input": {"args": [ORDER], "kwargs": {}}, "events": events}
    fixtures = {
        "order_v1": {**base, "workflow": "flows.replay:order_flow", "expect": {"result": result}},
        "order_reordered": {
            **base,
            "workflow": "flows.replay:order_flow_reordered",
            "expect": {"nondeterminism": ["operation #1", "step flows.replay:charge",
                                           "step flows.replay:reserve", "replay.py:46"]},
        },
        "order_shorter": {
            **base,
            "workflow": "flows.replay:order_flow_shorter",
            "expect": {"nondeterminism": ["operation #1", "step flows.replay:charge",
                                           "did not issue it"]},
        },
    }
    fixtures["order_broken"] = {
        **base,
        "workflow": "flows.replay:order_flow_broken",
        "expect": {"error": "AttributeError", "line": "replay.py\", line 80"},
    }
    # Logs a crash leaves when one commit recorded several deliveries and the
    # process died before the next commit, which held what the first one caused.
    for name, fn in (("fan_in_crash", replay.fan_in), ("twin_timers_crash", replay.twin_timers)):
        fixtures[name] = await crash_log(name, fn)
    for name, fixture in fixtures.items():
        (HERE / f"{name}.json").write_text(json.dumps(fixture, indent=1) + "\n")
        print("wrote", name)


async def crash_log(name: str, fn: object) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        async with wf.Engine(f"sqlite:///{tmp}/wf.db", poll_interval=0.01) as engine:
            run = await engine.start(fn, ORDER, run_id=f"fixture-{name}")  # type: ignore[arg-type]
            result = await run.result(timeout=30)
            log = [[e.seq, e.kind, e.cid, e.name, e.data, e.at] async for e in run.events()]
    # Keep the log up to the two deliveries in a row; drop what the next commit held.
    cut = next(
        i for i in range(2, len(log)) if {log[i - 1][1], log[i - 2][1]} <= DELIVERED
    )
    return {
        "run_id": f"fixture-{name}",
        "workflow": f"flows.replay:{fn.__name__}",  # type: ignore[attr-defined]
        "input": {"args": [ORDER], "kwargs": {}},
        "events": log[:cut],
        "expect": {"result": result},
    }


DELIVERED = {"step_completed", "timer_fired"}

asyncio.run(main())
