"""The conformance suite every `Store` backend must pass.

A backend's test module subclasses `StoreConformance` and provides two fixtures:

* ``store``: an opened store on an empty database, closed after the test;
* ``second_store``: another opened store on the *same* database (another worker
  process), closed after the test.

The tests use only the `Store` protocol, never a backend's own API, so the same
suite runs unchanged against SQLite and PostgreSQL. Every call is given its
``now`` (a store never reads the clock): most tests use the fixed ``T``; tests of
posting to a run post at the real time and claim at ``time.time() + 1``.
"""

from __future__ import annotations

import json
import time

import pytest

from wf.runtime._events import HOOK_CREATED, RUN_STARTED, STEP_COMPLETED, STEP_SCHEDULED, Event
from wf.store._commands import (
    AppendEvent,
    Batch,
    Command,
    CommitResult,
    ConsumeInbox,
    RegisterHook,
    StartChild,
    UpdateRun,
    WatchRun,
)
from wf.store._faults import REFUSED
from wf.store._protocol import FINISHED, HookRecord, RunRecord, Store

__all__ = ["StoreConformance"]

#: A fixed clock for claims and leases (far from the real clock on purpose).
T = 1_000_000.0
WORKFLOW = "app.flows:order"


def batch(*commands: Command) -> Batch:
    made = Batch()
    for command in commands:
        made.add(command)
    return made


def row(
    run_id: str,
    seq: int,
    kind: str = STEP_COMPLETED,
    cid: int | None = None,
    name: str | None = None,
    data: str | None = None,
    at: float = T,
) -> AppendEvent:
    return AppendEvent(run_id, Event(seq, kind, cid, name, data, at))


async def create(
    store: Store,
    run_id: str,
    *,
    wake_at: float = T,
    workflow: str = WORKFLOW,
    input: str = "[]",
    now: float = T,
) -> None:
    assert await store.create_run(run_id, workflow, input, now, wake_at)


async def claim_ids(
    store: Store, owner: str, now: float, *, limit: int = 100, lease: float = 30.0
) -> list[str]:
    return [r.run_id for r in await store.claim(owner, limit, now, lease)]


async def claim_ids_except(store: Store, owner: str, now: float, exclude: list[str]) -> list[str]:
    return sorted(r.run_id for r in await store.claim(owner, 100, now, 30.0, exclude))


async def run(store: Store, run_id: str) -> RunRecord:
    record = await store.get_run(run_id, now=T)
    assert record is not None, run_id
    return record


async def park(store: Store, run_id: str, owner: str, status: str, wake_at: float | None) -> None:
    """Claim ``run_id`` and release it in ``status`` with ``wake_at`` (as an eviction does)."""
    assert await claim_ids(store, owner, T, limit=1) == [run_id]
    result = await store.commit(
        batch(UpdateRun(run_id, status=status, set_wake=True, wake_at=wake_at, release=True)),
        owner,
        now=T,
    )
    assert result.lost == []


class StoreConformance:
    """Behaviour shared by every store. Subclasses provide ``store`` and ``second_store``."""

    # -- creating runs ---------------------------------------------------------------

    async def test_create_run_inserts_a_pending_run_and_its_started_event(
        self, store: Store
    ) -> None:
        assert await store.create_run("r1", WORKFLOW, '{"x": 1}', T, T + 5)
        record = await run(store, "r1")
        assert record.run_id == "r1"
        assert record.workflow_id == WORKFLOW
        assert record.status == "pending"
        assert record.input == '{"x": 1}'
        assert record.result is None and record.error is None
        assert record.created_at == T
        assert record.wake_at == T + 5
        assert record.lease_owner is None
        assert record.attempt == 1
        assert await store.load_events("r1") == [
            Event(0, RUN_STARTED, None, WORKFLOW, '{"x": 1}', T)
        ]

    async def test_create_run_is_idempotent(self, store: Store) -> None:
        assert await store.create_run("r1", WORKFLOW, "[1]", T, T)
        assert not await store.create_run("r1", "other:flow", "[2]", T + 1, T + 1)
        record = await run(store, "r1")
        assert (record.workflow_id, record.input, record.created_at) == (WORKFLOW, "[1]", T)
        assert len(await store.load_events("r1")) == 1
        assert [r.run_id for r in await store.list_runs(now=T)] == ["r1"]

    async def test_unknown_run_reads_as_none_and_empty_log(self, store: Store) -> None:
        assert await store.get_run("nope", now=T) is None
        assert await store.load_events("nope") == []
        assert await store.list_runs(now=T) == []

    # -- committing ----------------------------------------------------------------------

    async def test_commit_appends_events_and_load_events_returns_them_in_seq_order(
        self, store: Store
    ) -> None:
        await create(store, "r1")
        await claim_ids(store, "A", T)
        rows = [
            row("r1", 3, STEP_COMPLETED, 1, "b", '"B"', T + 3),
            row("r1", 1, STEP_SCHEDULED, 0, "a", None, T + 1),
            row("r1", 2, STEP_SCHEDULED, 1, "b", None, T + 2),
        ]
        assert (await store.commit(batch(*rows), "A", now=T)).lost == []
        events = await store.load_events("r1")
        assert [e.seq for e in events] == [0, 1, 2, 3]
        assert events[1:] == [
            Event(1, STEP_SCHEDULED, 0, "a", None, T + 1),
            Event(2, STEP_SCHEDULED, 1, "b", None, T + 2),
            Event(3, STEP_COMPLETED, 1, "b", '"B"', T + 3),
        ]
        assert [e.seq for e in await store.load_events("r1", after=1)] == [2, 3]
        assert [e.seq for e in await store.load_events("r1", after=0)] == [1, 2, 3]
        assert await store.load_events("r1", after=3) == []

    async def test_commit_covers_several_runs_and_keeps_their_logs_apart(
        self, store: Store
    ) -> None:
        for run_id in ("a", "b"):
            await create(store, run_id)
        assert sorted(await claim_ids(store, "A", T)) == ["a", "b"]
        commit = batch(
            row("a", 1, data='"a1"'),
            row("b", 1, data='"b1"'),
            row("a", 2),
            UpdateRun("b", status="completed", result='"done"', release=True),
        )
        assert (await store.commit(commit, "A", now=T)).lost == []
        assert [e.seq for e in await store.load_events("a")] == [0, 1, 2]
        assert [(e.seq, e.data) for e in await store.load_events("b")] == [(0, "[]"), (1, '"b1"')]
        assert (await run(store, "b")).status == "completed"

    async def test_a_run_whose_writes_are_refused_is_left_out_of_the_commit(
        self, store: Store
    ) -> None:
        for run_id in ("a", "b"):
            await create(store, run_id)
        await claim_ids(store, "A", T)
        await store.commit(batch(row("a", 1)), "A", now=T)
        bad = batch(
            row("b", 1),
            row("a", 1, data='"again"'),
            row("a", 2),
            UpdateRun("b", status="completed", result='"x"'),
            UpdateRun("a", status="completed", result='"y"'),
        )
        result = await store.commit(bad, "A", now=T)
        assert result.lost == []
        assert list(result.refused) == ["a"]
        # Each backend reports its own driver's error, and classifies it as a refusal.
        assert store.classify(result.refused["a"]).kind == REFUSED
        assert [e.seq for e in await store.load_events("b")] == [0, 1]
        assert ((await run(store, "b")).status, (await run(store, "b")).result) == (
            "completed",
            '"x"',
        )
        assert [(e.seq, e.data) for e in await store.load_events("a")] == [(0, "[]"), (1, None)]
        record = await run(store, "a")
        assert (record.status, record.result) == ("running", None)

    async def test_a_refused_run_registers_no_hook_starts_no_child_and_consumes_nothing(
        self, store: Store
    ) -> None:
        for run_id in ("a", "b"):
            await create(store, run_id)
        await claim_ids(store, "A", T)
        await store.commit(batch(row("a", 1)), "A", now=T)
        await store.post("a", "message", "m", None, now=time.time())
        await store.post("b", "message", "m", None, now=time.time())
        items = {i.run_id: i.id for i in await store.inbox("A")}
        bad = batch(
            StartChild("a", "child-a", WORKFLOW, "[]", T, 2),
            StartChild("b", "child-b", WORKFLOW, "[]", T, 2),
            RegisterHook("a", "tok-a", 1),
            RegisterHook("b", "tok-b", 1),
            row("a", 1),
            row("b", 1),
            ConsumeInbox("a", items["a"]),
            ConsumeInbox("b", items["b"]),
        )
        assert list((await store.commit(bad, "A", now=T)).refused) == ["a"]
        assert await store.hook_info("tok-a") is None
        assert await store.hook_info("tok-b") == HookRecord("b")
        assert await store.get_run("child-a", now=T) is None
        assert await store.get_run("child-b", now=T) is not None
        assert [i.run_id for i in await store.inbox("A")] == ["a"]

    async def test_a_failing_commit_writes_nothing(self, store: Store) -> None:
        for run_id in ("a", "b"):
            await create(store, run_id)
        await claim_ids(store, "A", T)
        await store.close()  # any commit fails now, and is not a refusal of some run's writes
        bad = batch(row("b", 1), row("a", 1), UpdateRun("b", status="completed", result='"x"'))
        with pytest.raises(Exception) as raised:
            await store.commit(bad, "A", now=T)
        assert store.classify(raised.value).kind != REFUSED
        await store.open()
        assert [e.seq for e in await store.load_events("b")] == [0]
        record = await run(store, "b")
        assert (record.status, record.result) == ("running", None)

    async def test_an_empty_commit_is_harmless(self, store: Store) -> None:
        await create(store, "r1")
        assert (await store.commit(batch(), "A", now=T)).lost == []
        assert (await run(store, "r1")).status == "pending"

    # -- run updates ---------------------------------------------------------------------

    async def test_update_sets_status_result_and_error(self, store: Store) -> None:
        for run_id in ("ok", "bad"):
            await create(store, run_id)
        await claim_ids(store, "A", T)
        updates = [
            UpdateRun("ok", status="completed", result='{"total": 3}'),
            UpdateRun("bad", status="failed", error='{"type": "ValueError"}'),
        ]
        assert (await store.commit(batch(*updates), "A", now=T)).lost == []
        ok, bad = await run(store, "ok"), await run(store, "bad")
        assert (ok.status, ok.result, ok.error) == ("completed", '{"total": 3}', None)
        assert (bad.status, bad.result, bad.error) == ("failed", None, '{"type": "ValueError"}')

    async def test_update_without_status_leaves_the_status(self, store: Store) -> None:
        await create(store, "r1")
        await claim_ids(store, "A", T)
        await store.commit(batch(UpdateRun("r1", set_wake=True, wake_at=T + 9)), "A", now=T)
        record = await run(store, "r1")
        assert (record.status, record.wake_at, record.lease_owner) == ("running", T + 9, "A")

    async def test_update_sets_and_clears_wake_at_only_when_asked(self, store: Store) -> None:
        await create(store, "r1", wake_at=T)
        await claim_ids(store, "A", T)
        await store.commit(batch(UpdateRun("r1", set_wake=True, wake_at=T + 60)), "A", now=T)
        assert (await run(store, "r1")).wake_at == T + 60
        # wake_at without set_wake is ignored
        await store.commit(batch(UpdateRun("r1", wake_at=T + 99)), "A", now=T)
        assert (await run(store, "r1")).wake_at == T + 60
        await store.commit(batch(UpdateRun("r1", set_wake=True, wake_at=None)), "A", now=T)
        assert (await run(store, "r1")).wake_at is None

    async def test_update_release_frees_the_run_at_once(self, store: Store) -> None:
        for run_id in ("a", "b"):
            await create(store, run_id)
        await claim_ids(store, "A", T, lease=1000)
        await store.commit(batch(UpdateRun("a", release=True)), "A", now=T)
        assert (await run(store, "a")).lease_owner is None
        assert (await run(store, "b")).lease_owner == "A"
        assert await claim_ids(store, "B", T + 1) == ["a"]

    # -- claiming ------------------------------------------------------------------------

    async def test_claim_takes_only_due_runs(self, store: Store) -> None:
        await create(store, "past", wake_at=T - 10)
        await create(store, "now", wake_at=T)
        await create(store, "future", wake_at=T + 10)
        claimed = await store.claim("A", 10, T, 30.0)
        assert sorted(r.run_id for r in claimed) == ["now", "past"]
        for record in claimed:
            assert (record.status, record.lease_owner) == ("running", "A")
        stored = await run(store, "past")
        assert (stored.status, stored.lease_owner) == ("running", "A")
        assert (await run(store, "future")).lease_owner is None
        assert await claim_ids(store, "A", T + 10) == ["future"]

    async def test_claim_respects_limit_and_orders_by_wake_at(self, store: Store) -> None:
        wakes = {"r3": T - 3, "r5": T - 1, "r1": T - 5, "r4": T - 2, "r2": T - 4}
        for run_id, wake_at in wakes.items():
            await create(store, run_id, wake_at=wake_at)
        assert await claim_ids(store, "A", T, limit=2) == ["r1", "r2"]
        assert await claim_ids(store, "B", T, limit=2) == ["r3", "r4"]
        assert await claim_ids(store, "C", T, limit=2) == ["r5"]
        assert await claim_ids(store, "D", T, limit=2) == []

    async def test_claim_never_hands_a_leased_run_to_another_owner(self, store: Store) -> None:
        await create(store, "r1")
        assert await claim_ids(store, "A", T, lease=30) == ["r1"]
        assert await claim_ids(store, "B", T) == []
        assert await claim_ids(store, "B", T + 29) == []
        assert (await run(store, "r1")).lease_owner == "A"

    async def test_claim_takes_over_a_run_whose_lease_expired(self, store: Store) -> None:
        await create(store, "r1")
        assert await claim_ids(store, "A", T, lease=30) == ["r1"]
        assert await claim_ids(store, "B", T + 31) == ["r1"]
        record = await run(store, "r1")
        assert (record.lease_owner, record.status) == ("B", "running")
        assert await claim_ids(store, "A", T + 32) == []

    async def test_expire_owner_makes_its_runs_claimable_at_once(self, store: Store) -> None:
        for run_id in ("a1", "a2"):
            await create(store, run_id)
        await claim_ids(store, "A", T, lease=1000)
        await create(store, "c1")
        await claim_ids(store, "C", T, lease=1000)
        assert sorted(await store.lease_owners()) == ["A", "C"]
        await store.expire_owner("A")
        assert sorted(await claim_ids(store, "B", T + 1)) == ["a1", "a2"]
        assert (await run(store, "c1")).lease_owner == "C"

    async def test_a_run_created_for_an_owner_is_leased_to_it_from_the_start(
        self, store: Store
    ) -> None:
        assert await store.create_run("r1", WORKFLOW, "[]", T, T, owner="A", lease_expires=T + 30)
        record = await run(store, "r1")
        assert (record.status, record.lease_owner) == ("running", "A")
        assert [e.kind for e in await store.load_events("r1")] == [RUN_STARTED]
        assert await claim_ids(store, "B", T + 10) == []  # held
        assert await store.renew("A", T + 20, 30) == ["r1"]
        assert await claim_ids(store, "B", T + 40) == []  # renewed until T + 50
        assert await claim_ids(store, "B", T + 51) == ["r1"]  # expired: taken over
        # An existing id is not taken over by creating it again for another owner.
        assert not await store.create_run("r1", WORKFLOW, "[]", T, T, owner="C", lease_expires=T)
        assert (await run(store, "r1")).lease_owner == "B"

    async def test_renew_extends_only_the_owners_leases(self, store: Store) -> None:
        await create(store, "a")
        await claim_ids(store, "A", T, lease=30)
        await create(store, "c")
        await claim_ids(store, "C", T, lease=30)
        await store.renew("A", T + 20, 30)
        assert await claim_ids(store, "B", T + 40) == ["c"]  # C did not renew
        assert await claim_ids(store, "B", T + 49) == []
        assert await claim_ids(store, "B", T + 51) == ["a"]

    async def test_release_frees_only_the_given_runs_of_that_owner(self, store: Store) -> None:
        for run_id in ("a", "b"):
            await create(store, run_id)
        await claim_ids(store, "A", T, lease=1000)
        await store.release("B", ["a", "b"])  # not B's to release
        assert await claim_ids(store, "B", T + 1) == []
        await store.release("A", ["a"])
        assert (await run(store, "a")).lease_owner is None
        assert await claim_ids(store, "B", T + 1) == ["a"]
        assert (await run(store, "b")).lease_owner == "A"

    async def test_claim_skips_the_runs_it_is_told_to(self, store: Store) -> None:
        for run_id in ("a", "b", "c"):
            await create(store, run_id)
        assert await claim_ids_except(store, "A", T, ["a", "b", "c"]) == []
        assert await claim_ids_except(store, "A", T, ["b"]) == ["a", "c"]
        assert await claim_ids_except(store, "B", T, ["a"]) == ["b"]

    async def test_a_run_left_with_a_note_is_claimable_by_others_and_the_claim_clears_it(
        self, store: Store
    ) -> None:
        await create(store, "r1")
        assert await claim_ids(store, "A", T) == ["r1"]
        left = UpdateRun("r1", status="pending", error='{"message": "no module"}', release=True)
        await store.commit(batch(left), "A", now=T)
        record = await run(store, "r1")
        assert (record.status, record.error, record.lease_owner) == (
            "pending",
            '{"message": "no module"}',
            None,
        )
        assert await claim_ids(store, "B", T) == ["r1"]
        record = await run(store, "r1")
        assert (record.status, record.error, record.lease_owner) == ("running", None, "B")

    async def test_a_running_run_whose_lease_expired_reads_as_pending(self, store: Store) -> None:
        await create(store, "r1")
        await create(store, "r2")
        assert await claim_ids(store, "A", T, limit=1, lease=30) == ["r1"]
        for now in (T, T + 29):
            record = await store.get_run("r1", now=now)
            assert record is not None
            assert (record.status, record.lease_owner) == ("running", "A")
        # Its worker stopped renewing: the run waits for another, whatever the row says.
        record = await store.get_run("r1", now=T + 31)
        assert record is not None
        assert (record.status, record.lease_owner) == ("pending", "A")
        assert await store.list_runs(status="running", now=T + 31) == []
        pending = await store.list_runs(status="pending", now=T + 31)
        assert sorted(r.run_id for r in pending) == ["r1", "r2"]
        assert [r.status for r in await store.list_runs(now=T + 31)] == ["pending", "pending"]
        # Taken over, it runs again.
        assert await claim_ids_except(store, "B", T + 31, ["r2"]) == ["r1"]
        record = await store.get_run("r1", now=T + 31)
        assert record is not None
        assert (record.status, record.lease_owner) == ("running", "B")

    async def test_a_released_running_run_is_pending(self, store: Store) -> None:
        await create(store, "r1")
        await claim_ids(store, "A", T, lease=1000)
        await store.release("A", ["r1"])
        record = await store.get_run("r1", now=T)
        assert record is not None
        assert (record.status, record.lease_owner) == ("pending", None)
        assert await claim_ids(store, "B", T) == ["r1"]

    async def test_a_runs_updated_at_is_its_last_change_or_last_event(self, store: Store) -> None:
        await create(store, "r1")
        await create(store, "r2")
        await claim_ids(store, "A", T)
        assert (await store.commit(batch(row("r1", 1, at=T + 5)), "A", now=T)).lost == []
        assert (await run(store, "r1")).updated_at == T + 5
        listed = {r.run_id: r.updated_at for r in await store.list_runs(now=T)}
        assert listed == {"r1": T + 5, "r2": T}
        assert (await store.commit(batch(row("r1", 2, at=T + 7)), "A", now=T)).lost == []
        assert (await run(store, "r1")).updated_at == T + 7
        assert (await run(store, "r2")).updated_at == T  # not touched

    async def test_check_database_passes_while_the_database_is_there(self, store: Store) -> None:
        await store.check_database()

    async def test_lease_owners_lists_each_holder_once(self, store: Store) -> None:
        assert await store.lease_owners() == []
        for run_id in ("a", "b", "c"):
            await create(store, run_id)
        await claim_ids(store, "A", T, limit=2)
        await claim_ids(store, "B", T)
        assert sorted(await store.lease_owners()) == ["A", "B"]
        await store.release("B", ["c"])
        assert await store.lease_owners() == ["A"]

    @pytest.mark.parametrize("status", FINISHED)
    async def test_finished_runs_are_never_claimed(self, store: Store, status: str) -> None:
        await create(store, "r1", wake_at=T)
        await claim_ids(store, "A", T)
        # The wake time stays in the past on purpose: the status alone must exclude it.
        await store.commit(batch(UpdateRun("r1", status=status, release=True)), "A", now=T)
        record = await run(store, "r1")
        assert (record.status, record.lease_owner, record.wake_at) == (status, None, T)
        assert await claim_ids(store, "B", T + 1e6) == []
        assert await claim_ids(store, "B", time.time() + 1e6) == []

    async def test_waiting_run_without_wake_time_is_claimed_only_after_a_post(
        self, store: Store
    ) -> None:
        await create(store, "r1")
        await park(store, "r1", "A", "waiting", None)
        assert await claim_ids(store, "B", T + 1e9) == []
        await store.post("r1", "cancel", None, None, now=time.time())
        claimed = await store.claim("B", 10, time.time() + 1, 30.0)
        assert [r.run_id for r in claimed] == ["r1"]
        assert claimed[0].status == "running"

    async def test_post_wakes_a_sleeping_run_early(self, store: Store) -> None:
        await create(store, "r1")
        far = time.time() + 1e6
        await park(store, "r1", "A", "sleeping", far)
        assert await claim_ids(store, "B", time.time() + 1) == []
        await store.post("r1", "cancel", None, None, now=time.time())
        assert await claim_ids(store, "B", time.time() + 1) == ["r1"]

    async def test_post_does_not_break_a_live_lease(self, store: Store) -> None:
        await create(store, "r1")
        await claim_ids(store, "A", time.time(), lease=3600)
        await store.post("r1", "cancel", None, None, now=time.time())
        assert await claim_ids(store, "B", time.time() + 1) == []
        assert [i.run_id for i in await store.inbox("A")] == ["r1"]

    async def test_release_with_an_unread_post_leaves_the_run_claimable(self, store: Store) -> None:
        # A holds the run and decides to evict it (waiting, no wake time) while a
        # cancellation is posted before A read its inbox: the run must not be
        # stranded with the cancellation unread.
        await create(store, "r1")
        await claim_ids(store, "A", time.time(), lease=3600)
        await store.post("r1", "cancel", None, '"stop"', now=time.time())
        evict = UpdateRun("r1", status="waiting", set_wake=True, wake_at=None, release=True)
        assert (await store.commit(batch(evict), "A", now=T)).lost == []
        assert await claim_ids(store, "B", time.time() + 1) == ["r1"]
        assert [(i.kind, i.data) for i in await store.inbox("B")] == [("cancel", '"stop"')]

    # -- inbox ---------------------------------------------------------------------------

    async def test_inbox_returns_only_items_of_runs_leased_by_that_owner(
        self, store: Store
    ) -> None:
        await create(store, "a", wake_at=T - 2)
        await create(store, "b", wake_at=T - 1)
        await create(store, "free", wake_at=T)
        t = time.time()
        assert await claim_ids(store, "A", t, limit=1, lease=3600) == ["a"]
        assert await claim_ids(store, "B", t, limit=1, lease=3600) == ["b"]
        a_run, b_run = "a", "b"
        await store.post(a_run, "cancel", None, '"first"', now=time.time())
        await store.post(b_run, "cancel", "why", None, now=time.time())
        await store.post("free", "cancel", None, None, now=time.time())
        await store.post(a_run, "signal", "go", '"second"', now=time.time())
        items = await store.inbox("A")
        assert [(i.run_id, i.kind, i.name, i.data) for i in items] == [
            (a_run, "cancel", None, '"first"'),
            (a_run, "signal", "go", '"second"'),
        ]
        assert items[0].id < items[1].id
        assert all(abs(i.at - time.time()) < 60 for i in items)
        assert [(i.run_id, i.name) for i in await store.inbox("B")] == [(b_run, "why")]
        assert await store.inbox("C") == []

    async def test_consumed_items_disappear(self, store: Store) -> None:
        await create(store, "r1")
        await claim_ids(store, "A", time.time(), lease=3600)
        for n in range(3):
            await store.post("r1", "signal", str(n), None, now=time.time())
        items = await store.inbox("A")
        assert [i.name for i in items] == ["0", "1", "2"]
        done = batch(row("r1", 1), ConsumeInbox("r1", items[0].id), ConsumeInbox("r1", items[2].id))
        assert (await store.commit(done, "A", now=T)).lost == []
        assert [i.name for i in await store.inbox("A")] == ["1"]

    # -- lost runs -------------------------------------------------------------------------

    async def test_commit_by_an_owner_that_lost_the_run_reports_it_and_keeps_the_rest(
        self, store: Store
    ) -> None:
        await create(store, "r", wake_at=T)
        assert await claim_ids(store, "A", T, lease=10) == ["r"]
        await create(store, "s", wake_at=T + 15)
        # A stalls; its lease on r expires and B takes r over and writes seq 1 first.
        assert await claim_ids(store, "B", T + 20, limit=1) == ["r"]
        assert await claim_ids(store, "A", T + 20) == ["s"]
        assert (await store.commit(batch(row("r", 1, data='"B"')), "B", now=T)).lost == []
        stale = batch(
            row("r", 1, data='"A"'),
            row("r", 2),
            row("s", 1, data='"A"'),
            UpdateRun("r", status="completed", result='"A"', release=True),
            UpdateRun("s", status="completed", result='"A"', release=True),
        )
        assert (await store.commit(stale, "A", now=T)).lost == ["r"]
        assert [(e.seq, e.data) for e in await store.load_events("r")] == [(0, "[]"), (1, '"B"')]
        r = await run(store, "r")
        assert (r.status, r.result, r.lease_owner) == ("running", None, "B")
        assert [(e.seq, e.data) for e in await store.load_events("s")] == [(0, "[]"), (1, '"A"')]
        s = await run(store, "s")
        assert (s.status, s.result, s.lease_owner) == ("completed", '"A"', None)

    async def test_commit_by_a_stale_owner_is_dropped_even_before_the_new_owner_writes(
        self, store: Store
    ) -> None:
        # The stale owner must not write into a run another worker holds: otherwise
        # the new owner's next append collides with the stale one and it is stuck.
        await create(store, "r")
        assert await claim_ids(store, "A", T, lease=10) == ["r"]
        assert await claim_ids(store, "B", T + 20) == ["r"]
        stale = batch(
            row("r", 1, data='"A"'), UpdateRun("r", status="completed", result='"A"', release=True)
        )
        assert (await store.commit(stale, "A", now=T)).lost == ["r"]
        r = await run(store, "r")
        assert (r.status, r.result, r.lease_owner) == ("running", None, "B")
        assert [e.seq for e in await store.load_events("r")] == [0]
        assert (await store.commit(batch(row("r", 1, data='"B"')), "B", now=T)).lost == []
        assert [(e.seq, e.data) for e in await store.load_events("r")] == [(0, "[]"), (1, '"B"')]

    async def test_a_stale_owner_does_not_consume_the_new_owners_inbox(self, store: Store) -> None:
        await create(store, "r")
        t = time.time()
        assert await claim_ids(store, "A", t, lease=10) == ["r"]
        await store.post("r", "cancel", None, None, now=time.time())
        [item] = await store.inbox("A")
        assert await claim_ids(store, "B", t + 20) == ["r"]
        stale = batch(row("r", 1, "cancel_requested"), ConsumeInbox("r", item.id))
        assert (await store.commit(stale, "A", now=T)).lost == ["r"]
        assert [i.id for i in await store.inbox("B")] == [item.id]

    async def test_an_expired_lease_nobody_took_still_lets_its_owner_commit(
        self, store: Store
    ) -> None:
        await create(store, "r")
        await claim_ids(store, "A", T, lease=10)
        await store.expire_owner("A")
        assert (await store.commit(batch(row("r", 1)), "A", now=T)).lost == []
        assert [e.seq for e in await store.load_events("r")] == [0, 1]

    # -- fail_run ----------------------------------------------------------------------------

    async def test_fail_run_marks_failed_without_touching_events(self, store: Store) -> None:
        await create(store, "r1")
        await claim_ids(store, "A", T)
        await store.commit(batch(row("r1", 1, STEP_SCHEDULED, 0, "a")), "A", now=T)
        before = await store.load_events("r1")
        await store.fail_run("r1", "A", '{"type": "NondeterminismError"}', now=T)
        record = await run(store, "r1")
        assert record.status == "failed"
        assert record.error == '{"type": "NondeterminismError"}'
        assert record.lease_owner is None
        assert await store.load_events("r1") == before
        assert await claim_ids(store, "B", T + 1e6) == []

    async def test_fail_run_by_another_owner_changes_nothing(self, store: Store) -> None:
        await create(store, "r1")
        await claim_ids(store, "A", T)
        await store.fail_run("r1", "B", "nope", now=T)
        record = await run(store, "r1")
        assert (record.status, record.error, record.lease_owner) == ("running", None, "A")

    # -- listing -------------------------------------------------------------------------------

    async def test_list_runs_filters_by_status_and_workflow(self, store: Store) -> None:
        await create(store, "o1", workflow="app.flows:order", now=T, wake_at=T - 1)
        await create(store, "o2", workflow="app.flows:order", now=T + 1)
        await create(store, "o3", workflow="other.mod:order", now=T + 2)
        await create(store, "x1", workflow="app.flows:reorder", now=T + 3)
        await create(store, "x2", workflow="app.flows:order_v2", now=T + 4)
        assert await claim_ids(store, "A", T, limit=1) == ["o1"]

        def ids(records: list[RunRecord]) -> list[str]:
            return sorted(r.run_id for r in records)

        assert ids(await store.list_runs(now=T)) == ["o1", "o2", "o3", "x1", "x2"]
        assert ids(await store.list_runs(workflow="order", now=T)) == ["o1", "o2", "o3"]
        assert ids(await store.list_runs(workflow="app.flows:order", now=T)) == ["o1", "o2"]
        assert ids(await store.list_runs(workflow="reorder", now=T)) == ["x1"]
        assert ids(await store.list_runs(workflow="flows", now=T)) == []
        assert ids(await store.list_runs(workflow="nothing", now=T)) == []
        assert ids(await store.list_runs(status="running", now=T)) == ["o1"]
        assert ids(await store.list_runs(status="pending", workflow="order", now=T)) == [
            "o2",
            "o3",
        ]
        assert ids(await store.list_runs(status="running", workflow="other.mod:order", now=T)) == []
        assert await store.list_runs(status="completed", now=T) == []

    async def test_list_runs_matches_workflow_names_literally(self, store: Store) -> None:
        await create(store, "a", workflow="app:send_mail")
        await create(store, "b", workflow="app:sendXmail")
        await create(store, "c", workflow="app:Order")
        await create(store, "d", workflow="app:50%off")
        await create(store, "e", workflow="app:50xoff")
        assert [r.run_id for r in await store.list_runs(workflow="send_mail", now=T)] == ["a"]
        assert [r.run_id for r in await store.list_runs(workflow="order", now=T)] == []
        assert [r.run_id for r in await store.list_runs(workflow="Order", now=T)] == ["c"]
        assert [r.run_id for r in await store.list_runs(workflow="50%off", now=T)] == ["d"]

    async def test_list_runs_limit_keeps_the_newest(self, store: Store) -> None:
        for n in range(5):
            await create(store, f"r{n}", now=T + n)
        assert [r.run_id for r in await store.list_runs(limit=2, now=T)] == ["r4", "r3"]
        assert len(await store.list_runs(limit=100, now=T)) == 5
        assert [r.run_id for r in await store.list_runs(workflow="order", limit=1, now=T)] == ["r4"]

    # -- two workers on one database -------------------------------------------------------------

    async def test_two_stores_share_the_database(self, store: Store, second_store: Store) -> None:
        await create(store, "r1")
        assert (await run(second_store, "r1")).status == "pending"
        assert await claim_ids(second_store, "B", T) == ["r1"]
        assert (await run(store, "r1")).lease_owner == "B"
        assert await claim_ids(store, "A", T) == []

    async def test_alternating_claims_from_two_stores_are_disjoint(
        self, store: Store, second_store: Store
    ) -> None:
        total = 200
        for n in range(total):
            await create(store, f"r{n:03}", wake_at=T - total + n)
        got: dict[str, list[str]] = {"A": [], "B": []}
        for turn in range(2 * total):
            if len(got["A"]) + len(got["B"]) >= total:
                break
            owner, which = ("A", store) if turn % 2 == 0 else ("B", second_store)
            got[owner] += await claim_ids(which, owner, T, limit=1 + turn % 7)
        assert await claim_ids(store, "A", T) == []
        assert await claim_ids(second_store, "B", T) == []
        assert not set(got["A"]) & set(got["B"])
        assert len(got["A"]) + len(got["B"]) == total
        assert sorted(got["A"] + got["B"]) == [f"r{n:03}" for n in range(total)]
        assert got["A"] and got["B"]
        for owner, run_ids in got.items():
            for run_id in run_ids:
                assert (await run(store, run_id)).lease_owner == owner

    # -- hooks -------------------------------------------------------------------------------------

    async def test_a_hook_registered_by_the_lease_owner_routes_payloads_to_its_run(
        self, store: Store
    ) -> None:
        await create(store, "r1")
        await create(store, "other")
        assert sorted(await claim_ids(store, "A", time.time(), lease=3600)) == ["other", "r1"]
        commit = batch(RegisterHook("r1", "tok", 0), row("r1", 1, HOOK_CREATED, 0, "tok"))
        assert commit
        assert (await store.commit(commit, "A", now=T)) == CommitResult()
        assert await store.post_to_hook("tok", '{"ok": true}', now=time.time()) == "r1"
        assert await store.post_to_hook("tok", None, now=time.time()) == "r1"
        items = await store.inbox("A")
        assert [(i.run_id, i.kind, i.name, i.data) for i in items] == [
            ("r1", "hook", "tok", '{"ok": true}'),
            ("r1", "hook", "tok", None),
        ]
        assert items[0].id < items[1].id
        assert all(abs(i.at - time.time()) < 60 for i in items)

    async def test_hook_info_names_the_holder_the_payload_type_and_the_webhook_answer(
        self, store: Store
    ) -> None:
        await create(store, "r1")
        await claim_ids(store, "A", T)
        commit = batch(
            RegisterHook("r1", "typed", 0, "app.models:Decision", None),
            RegisterHook("r1", "plain", 1),
            RegisterHook("r1", "web", 2, None, '{"mode": "manual"}'),
        )
        assert (await store.commit(commit, "A", now=T)).lost == []
        assert await store.hook_info("typed") == HookRecord("r1", "app.models:Decision")
        assert await store.hook_info("plain") == HookRecord("r1")
        assert await store.hook_info("web") == HookRecord("r1", None, '{"mode": "manual"}')
        assert await store.hook_info("unknown") is None

    # -- webhook responses ---------------------------------------------------------------------

    async def test_a_webhook_response_is_taken_once_and_the_first_one_wins(
        self, store: Store, second_store: Store
    ) -> None:
        assert await store.take_webhook_response("req-1") is None
        assert await store.set_webhook_response(
            "req-1", 201, '[["x-a", "1"]]', b"\x00body", now=time.time()
        )
        assert not await second_store.set_webhook_response(
            "req-1", 500, "[]", b"late", now=time.time()
        )
        # Another process (the HTTP server) reads it, and only once.
        assert await second_store.take_webhook_response("req-1") == (
            201,
            '[["x-a", "1"]]',
            b"\x00body",
        )
        assert await store.take_webhook_response("req-1") is None

    async def test_an_answer_after_the_caller_gave_up_is_not_kept(self, store: Store) -> None:
        await store.discard_webhook_response("req-2", now=time.time())
        assert not await store.set_webhook_response(
            "req-2", 200, "[]", b"too late", now=time.time()
        )
        assert await store.take_webhook_response("req-2") is None
        # An answer that came before the caller gave up is dropped with it.
        assert await store.set_webhook_response("req-3", 200, "[]", b"unread", now=time.time())
        await store.discard_webhook_response("req-3", now=time.time())
        assert await store.take_webhook_response("req-3") is None

    async def test_a_commit_of_only_hooks_is_not_empty(self, store: Store) -> None:
        await create(store, "r1")
        await claim_ids(store, "A", T)
        commit = batch(RegisterHook("r1", "tok", 4))
        assert commit
        assert (await store.commit(commit, "A", now=T)).lost == []
        assert await store.post_to_hook("tok", "1", now=time.time()) == "r1"

    @pytest.mark.parametrize("status", ["waiting", "sleeping"])
    async def test_post_to_hook_makes_a_parked_run_due(self, store: Store, status: str) -> None:
        await create(store, "r1")
        await claim_ids(store, "A", T, limit=1)
        await store.commit(batch(RegisterHook("r1", "tok", 0)), "A", now=T)
        wake_at = None if status == "waiting" else time.time() + 1e6
        evict = UpdateRun("r1", status=status, set_wake=True, wake_at=wake_at, release=True)
        assert (await store.commit(batch(evict), "A", now=T)).lost == []
        assert await claim_ids(store, "B", time.time() + 1) == []
        before = time.time()
        assert await store.post_to_hook("tok", '"payload"', now=time.time()) == "r1"
        record = await run(store, "r1")
        assert record.wake_at is not None and record.wake_at <= time.time()
        assert record.wake_at >= before - 1
        claimed = await store.claim("B", 10, time.time() + 1, 30.0)
        assert [(r.run_id, r.status) for r in claimed] == [("r1", "running")]
        assert [(i.kind, i.name, i.data) for i in await store.inbox("B")] == [
            ("hook", "tok", '"payload"')
        ]

    async def test_post_to_hook_does_not_break_a_live_lease(self, store: Store) -> None:
        await create(store, "r1")
        await claim_ids(store, "A", time.time(), lease=3600)
        await store.commit(batch(RegisterHook("r1", "tok", 0)), "A", now=T)
        assert await store.post_to_hook("tok", "1", now=time.time()) == "r1"
        assert await claim_ids(store, "B", time.time() + 1) == []
        assert (await run(store, "r1")).lease_owner == "A"
        assert [i.name for i in await store.inbox("A")] == ["tok"]

    async def test_post_to_an_unknown_token_writes_nothing(self, store: Store) -> None:
        await create(store, "r1", wake_at=T)
        await claim_ids(store, "A", T)
        await store.commit(batch(RegisterHook("r1", "tok", 0)), "A", now=T)
        far = time.time() + 1e6
        evict = UpdateRun("r1", status="sleeping", set_wake=True, wake_at=far, release=True)
        await store.commit(batch(evict), "A", now=T)
        before = await run(store, "r1")
        assert await store.post_to_hook("nope", '"x"', now=time.time()) is None
        assert (
            await store.post_to_hook("TOK", '"x"', now=time.time()) is None
        )  # tokens are case-sensitive
        assert await store.post_to_hook("", None, now=time.time()) is None
        assert await run(store, "r1") == before
        assert await claim_ids(store, "B", time.time() + 1) == []
        assert await claim_ids(store, "B", far + 1) == ["r1"]
        assert await store.inbox("B") == []

    async def test_a_token_held_by_another_live_run_is_reported_as_a_conflict(
        self, store: Store
    ) -> None:
        for run_id in ("first", "second"):
            await create(store, run_id)
        await claim_ids(store, "A", T, limit=1)
        await claim_ids(store, "B", T, limit=1)
        assert (await store.commit(batch(RegisterHook("first", "tok", 0)), "A", now=T)).lost == []
        clash = batch(
            RegisterHook("second", "tok", 0),
            RegisterHook("second", "own", 1),
            row("second", 1, HOOK_CREATED, 0, "tok"),
        )
        assert (await store.commit(clash, "B", now=T)) == CommitResult(conflicts={"tok": "first"})
        # The holder keeps the token; the rest of the commit landed.
        assert await store.post_to_hook("tok", "1", now=time.time()) == "first"
        assert await store.post_to_hook("own", "2", now=time.time()) == "second"
        assert [e.seq for e in await store.load_events("second")] == [0, 1]
        assert [i.data for i in await store.inbox("A")] == ["1"]
        assert [i.data for i in await store.inbox("B")] == ["2"]

    async def test_a_run_registering_its_own_token_again_is_no_conflict(self, store: Store) -> None:
        # A replay (say after a takeover) registers the run's tokens once more.
        await create(store, "r1")
        await claim_ids(store, "A", T, lease=10)
        assert (await store.commit(batch(RegisterHook("r1", "tok", 0)), "A", now=T)).lost == []
        assert await claim_ids(store, "B", T + 20) == ["r1"]
        again = batch(RegisterHook("r1", "tok", 0))
        assert (await store.commit(again, "B", now=T)) == CommitResult()
        assert await store.post_to_hook("tok", "1", now=time.time()) == "r1"

    async def test_hooks_of_a_stale_owner_are_dropped(self, store: Store) -> None:
        await create(store, "r1")
        await claim_ids(store, "A", T, lease=10)
        assert await claim_ids(store, "B", T + 20) == ["r1"]
        stale = batch(RegisterHook("r1", "tok", 0), row("r1", 1, HOOK_CREATED, 0, "tok"))
        assert (await store.commit(stale, "A", now=T)).lost == ["r1"]
        assert await store.post_to_hook("tok", "1", now=time.time()) is None
        only_hooks = batch(RegisterHook("r1", "tok2", 1))
        assert (await store.commit(only_hooks, "A", now=T)).lost == ["r1"]
        assert await store.post_to_hook("tok2", "1", now=time.time()) is None

    @pytest.mark.parametrize("status", FINISHED)
    async def test_a_finished_run_releases_its_tokens(self, store: Store, status: str) -> None:
        for run_id in ("r1", "keeper"):
            await create(store, run_id)
        await claim_ids(store, "A", T)
        hooks = [
            RegisterHook("r1", "a", 0),
            RegisterHook("r1", "b", 1),
            RegisterHook("keeper", "kept", 0),
        ]
        await store.commit(batch(*hooks), "A", now=T)
        # A status that is not an end keeps them.
        await store.commit(batch(UpdateRun("r1", status="waiting")), "A", now=T)
        assert await store.post_to_hook("a", "0", now=time.time()) == "r1"
        end = UpdateRun("r1", status=status, release=True)
        assert (await store.commit(batch(end), "A", now=T)).lost == []
        assert await store.post_to_hook("a", "1", now=time.time()) is None
        assert await store.post_to_hook("b", "1", now=time.time()) is None
        assert await store.post_to_hook("kept", "1", now=time.time()) == "keeper"
        # A released token is free for another run.
        await create(store, "next")
        await claim_ids(store, "B", T + 1, limit=1)
        reuse = batch(RegisterHook("next", "a", 0))
        assert (await store.commit(reuse, "B", now=T)) == CommitResult()
        assert await store.post_to_hook("a", "2", now=time.time()) == "next"

    async def test_fail_run_releases_the_runs_tokens(self, store: Store) -> None:
        for run_id in ("r1", "keeper"):
            await create(store, run_id)
        await claim_ids(store, "A", T)
        await store.commit(
            batch(RegisterHook("r1", "a", 0), RegisterHook("keeper", "kept", 0)), "A", now=T
        )
        await store.fail_run("r1", "A", '{"type": "NondeterminismError"}', now=T)
        assert (await run(store, "r1")).status == "failed"
        assert await store.post_to_hook("a", "1", now=time.time()) is None
        assert await store.post_to_hook("kept", "1", now=time.time()) == "keeper"

    async def test_tokens_survive_reopening_the_store(
        self, store: Store, second_store: Store
    ) -> None:
        await create(store, "r1")
        await claim_ids(store, "A", T)
        await store.commit(batch(RegisterHook("r1", "tok", 0)), "A", now=T)
        assert await second_store.post_to_hook("tok", "1", now=time.time()) == "r1"
        await store.close()
        await store.open()
        assert await store.post_to_hook("tok", "2", now=time.time()) == "r1"
        assert [i.data for i in await store.inbox("A")] == ["1", "2"]

    async def test_a_refused_commit_registers_no_hooks(self, store: Store) -> None:
        await create(store, "r1")
        await claim_ids(store, "A", T)
        bad = batch(RegisterHook("r1", "tok", 0), row("r1", 0))  # seq 0 exists
        assert list((await store.commit(bad, "A", now=T)).refused) == ["r1"]
        assert await store.post_to_hook("tok", "1", now=time.time()) is None
        assert (await store.commit(batch(RegisterHook("r1", "tok", 0)), "A", now=T)).lost == []
        assert await store.post_to_hook("tok", "1", now=time.time()) == "r1"

    async def test_a_run_waiting_for_another_is_told_when_it_ends_and_woken(
        self, store: Store
    ) -> None:
        for run_id in ("watched", "waiter"):
            await create(store, run_id)
        await claim_ids(store, "A", T)
        assert (await store.commit(batch(WatchRun("waiter", "watched", 3)), "A", now=T)).lost == []
        await store.commit(
            batch(UpdateRun("waiter", status="waiting", set_wake=True, release=True)),
            "A",
            now=T,
        )
        assert (await run(store, "waiter")).wake_at is None
        # Nothing is queued until the watched run ends; then the waiter is due now.
        assert [i.kind for i in await store.inbox("A")] == []
        done = UpdateRun("watched", status="completed", result='"ok"', release=True)
        assert (await store.commit(batch(done), "A", now=T)).lost == []
        assert (await run(store, "waiter")).wake_at is not None
        # (The store stamps the wake-up with its own clock: claim after it.)
        assert await claim_ids(store, "B", time.time() + 1) == ["waiter"]
        (item,) = await store.inbox("B")
        assert (item.run_id, item.kind, item.name) == ("waiter", "watch", "3")
        assert json.loads(item.data or "{}") == {
            "status": "completed",
            "result": '"ok"',
            "error": None,
            "run_id": "watched",
        }

    async def test_a_run_failed_outside_its_log_tells_its_parent_and_its_watchers(
        self, store: Store
    ) -> None:
        await create(store, "parent")
        await claim_ids(store, "A", T)
        start = StartChild("parent", "kid", WORKFLOW, "[]", T, 0)
        assert (await store.commit(batch(start), "A", now=T)).lost == []
        await create(store, "waiter")
        assert sorted(await claim_ids(store, "A", T)) == ["kid", "waiter"]
        assert (await store.commit(batch(WatchRun("waiter", "kid", 2)), "A", now=T)).lost == []
        await store.fail_run("kid", "A", '{"type": "NondeterminismError"}', now=T)
        told = {
            i.run_id: (i.kind, i.name, json.loads(i.data or "{}")) for i in await store.inbox("A")
        }
        assert told["parent"][:2] == ("child", "kid")
        assert told["waiter"][:2] == ("watch", "2")
        for _, _, outcome in told.values():
            assert outcome["status"] == "failed"
            assert outcome["error"] == '{"type": "NondeterminismError"}'

    async def test_waiting_for_an_ended_or_unknown_run_is_answered_at_once(
        self, store: Store
    ) -> None:
        for run_id in ("ended", "waiter"):
            await create(store, run_id)
        await claim_ids(store, "A", T)
        failed = UpdateRun("ended", status="failed", error='{"type": "KeyError"}', release=True)
        await store.commit(batch(failed), "A", now=T)
        watches = [WatchRun("waiter", "ended", 0), WatchRun("waiter", "nobody", 1)]
        assert (await store.commit(batch(*watches), "A", now=T)).lost == []
        answers = {i.name: json.loads(i.data or "{}") for i in await store.inbox("A")}
        assert answers["0"]["status"] == "failed"
        assert answers["0"]["error"] == '{"type": "KeyError"}'
        assert answers["1"] == {"status": "missing", "run_id": "nobody"}
