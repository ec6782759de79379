"""Property: replaying a run from any prefix of its log reaches the same result and log.

Hypothesis generates workflow shapes (sequences, gathers, races, sleeps, timeouts,
failing and retried steps). Each is run live once; then, for every prefix of its
log, a new run seeded with exactly that prefix is resumed by a worker. Every
resumed run must keep the prefix as it was, issue the same operations with the
same arguments, see the same step results and return the same value.
"""

from __future__ import annotations

import asyncio
import tempfile
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import wf
from flows import shapes
from flows.seeding import seed_run
from wf.runtime import _serde
from wf.runtime._context import RunContext
from wf.runtime._events import (
    OPERATIONS,
    RUN_COMPLETED,
    STEP_COMPLETED,
    STEP_FAILED,
    Event,
)

values = st.integers(min_value=0, max_value=99)
operation = st.one_of(
    st.tuples(st.just("step"), values),
    st.tuples(st.just("gather"), st.lists(values, min_size=1, max_size=4)),
    st.tuples(st.just("race"), values),
    st.tuples(st.just("sleep"), st.integers(min_value=0, max_value=5)),
    st.tuples(st.just("fail"), values),
    st.tuples(st.just("retry"), values),
    st.tuples(st.just("timeout"), st.integers(min_value=1, max_value=5)),
    st.tuples(st.just("progress"), values),
    st.tuples(st.just("race2"), values),
    st.tuples(st.just("map"), st.lists(values, min_size=1, max_size=5)),
    st.tuples(st.just("timers"), st.integers(min_value=0, max_value=5)),
).map(list)
programs = st.lists(operation, min_size=1, max_size=6)


def expected(program: list[list[Any]]) -> list[Any]:
    """What the shape workflow must return, computed without wf."""
    out: list[Any] = []
    for op, arg in program:
        out.append(
            {
                "step": lambda a: a * 10,
                "gather": lambda a: [v * 10 for v in a],
                "race": lambda a: a * 10,
                "sleep": lambda a: "slept",
                "fail": lambda a: f"caught boom {a}",
                "retry": lambda a: a + 1,
                "timeout": lambda a: "timeout",
                "progress": lambda a: "noted",
                "race2": lambda a: a * 10,
                "map": lambda a: [v * 10 for v in a],
                "timers": lambda a: "timers",
            }[op](arg)
        )
    return out


def signature(events: list[Event]) -> dict[str, Any]:
    """What must not depend on where a run was interrupted (timestamps and timer data may)."""
    return {
        "operations": {
            e.cid: (e.kind, e.name, e.data if e.kind != "timer_scheduled" else None)
            for e in events
            if e.kind in OPERATIONS
        },
        "results": {e.cid: e.data for e in events if e.kind == STEP_COMPLETED},
        "failures": {e.cid: e.name for e in events if e.kind == STEP_FAILED},
        "end": [(e.kind, e.data) for e in events if e.kind == RUN_COMPLETED],
    }


async def check(program: list[list[Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/wf.db"
        async with wf.Engine(url, poll_interval=0.01) as engine:
            run = await engine.start(shapes.shape, program)
            result = await run.result(timeout=20)
            assert result == expected(program)
            log = [e async for e in run.events()]
            assert log[-1].kind == RUN_COMPLETED

            # Pure replay of every prefix never trips the determinism check.
            for cut in range(1, len(log)):
                ctx = RunContext(
                    run_id=run.id,
                    workflow_id="flows.shapes:shape",
                    fn=shapes.shape,
                    args=(program,),
                    kwargs={},
                    started_at=log[0].at,
                )
                ctx.replay(log[1:cut])
                assert ctx.failure is None, (cut, ctx.failure)
                ctx.close()

            # Resume a copy of the run from every prefix, all at once on the worker.
            payload = _serde.dumps({"args": [program], "kwargs": {}})
            copies = {}
            for cut in range(1, len(log)):
                run_id = f"{run.id}-cut{cut}"
                prefix = log[:cut]
                seed_run(engine.store, run_id, "flows.shapes:shape", payload, prefix)
                copies[run_id] = prefix
            engine.poke()
            for run_id, prefix in copies.items():
                copy = engine.get_run(run_id)
                assert await copy.result(timeout=20) == result, run_id
                resumed = [e async for e in copy.events()]
                assert [(e.seq, e.kind, e.cid, e.data) for e in resumed[1 : len(prefix)]] == [
                    (e.seq, e.kind, e.cid, e.data) for e in prefix[1:]
                ], run_id
                assert signature(resumed) == signature(log), run_id


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs)
# The shapes a crash used to fail for good: one commit holding several completions
# (or fired timers) whose first delivery issues the next operation.
@example([["race2", 1], ["step", 2]])
@example([["timers", 1], ["step", 2]])
@example([["map", [1, 2, 3, 4, 5]], ["step", 2]])
def test_replay_from_any_prefix_reaches_the_same_result_and_log(
    program: list[list[Any]],
) -> None:
    asyncio.run(check(program))
