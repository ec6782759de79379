"""Every example, run end to end on a real engine, with how often each step ran."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import wf
from examples import bulk_import, countdown, order_saga, parallel_fetch, pipeline, race_timeout

TIMEOUT = 10


async def _step_kinds(run: wf.Run[object]) -> list[str]:
    return [event.kind async for event in run.events()]


# -- pipeline ----------------------------------------------------------------------------


@pytest.fixture
def pipeline_state() -> Iterator[None]:
    pipeline.reset()
    yield
    pipeline.reset()


async def test_pipeline_validates_processes_and_stores(
    engine: wf.Engine, pipeline_state: None
) -> None:
    doc = {"id": "d-1", "title": " Quarterly report ", "body": "Revenue grew in every region."}
    run = await engine.start(pipeline.process_document, doc)
    result = await run.result(timeout=TIMEOUT)

    assert result["location"] == "documents/d-1"
    assert result["words"] == 5
    assert pipeline.DOCUMENTS["d-1"]["title"] == "Quarterly report"
    assert pipeline.DOCUMENTS["d-1"]["checksum"] == result["checksum"]
    assert pipeline.CALLS == {"validate": 1, "process": 1, "store": 1}
    assert await run.status() == "completed"


async def test_pipeline_rejects_invalid_input_without_retrying(
    engine: wf.Engine, pipeline_state: None
) -> None:
    run = await engine.start(pipeline.process_document, {"id": "d-2", "title": ""})
    with pytest.raises(wf.RunFailedError, match="invalid document") as caught:
        await run.result(timeout=TIMEOUT)

    assert caught.value.error_type.endswith("FatalError")
    assert "'title' must be a non-empty string" in str(caught.value)
    assert "'body' must be a non-empty string" in str(caught.value)
    assert pipeline.CALLS == {"validate": 1}  # FatalError: one attempt, nothing after it
    assert pipeline.DOCUMENTS == {}
    assert await run.status() == "failed"


# -- parallel fetch ----------------------------------------------------------------------


async def test_parallel_fetch_runs_the_three_steps_concurrently(engine: wf.Engine) -> None:
    parallel_fetch.CALLS.clear()
    run = await engine.start(parallel_fetch.user_dashboard, "u-1")
    result = await run.result(timeout=TIMEOUT)

    assert result == {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "orders": 2,
        "total_spent": 1730,
        "theme": "dark",
        "currency": "EUR",
    }
    assert parallel_fetch.CALLS == {"fetch_user": 1, "fetch_orders": 1, "fetch_preferences": 1}
    # All three were scheduled before the first one finished: they ran side by side.
    kinds = await _step_kinds(run)
    first_completion = kinds.index("step_completed")
    assert kinds[:first_completion].count("step_scheduled") == 3, kinds


async def test_parallel_fetch_unknown_user_fails(engine: wf.Engine) -> None:
    run = await engine.start(parallel_fetch.user_dashboard, "nobody")
    with pytest.raises(wf.RunFailedError, match="no user 'nobody'"):
        await run.result(timeout=TIMEOUT)


# -- race with a deadline ----------------------------------------------------------------


async def test_race_fresh_report_wins_before_the_deadline(engine: wf.Engine) -> None:
    race_timeout.CALLS.clear()
    run = await engine.start(race_timeout.regional_report, "apac", wait="5s", work=0.01)
    result = await run.result(timeout=TIMEOUT)

    assert result == {"region": "apac", "revenue": 1_250_000, "as_of": "now", "source": "live"}
    assert race_timeout.CALLS == {"build_report": 1}


async def test_race_deadline_wins_and_serves_the_cache(engine: wf.Engine) -> None:
    race_timeout.CALLS.clear()
    started = time.perf_counter()
    run = await engine.start(race_timeout.regional_report, "emea", wait="50ms", work=3.0)
    result = await run.result(timeout=TIMEOUT)

    assert time.perf_counter() - started < 2.0, "the deadline, not the slow step, decided"
    assert result["source"] == "cache"
    assert result["as_of"] == "yesterday"
    assert race_timeout.CALLS == {"build_report": 1, "cached_report": 1}
    kinds = await _step_kinds(run)
    assert kinds.index("timer_fired") < kinds.index("run_completed")


async def test_race_deadline_without_cache_raises_timeout(engine: wf.Engine) -> None:
    run = await engine.start(race_timeout.regional_report, "mars", wait="50ms", work=3.0)
    with pytest.raises(wf.RunFailedError) as caught:
        await run.result(timeout=TIMEOUT)

    assert caught.value.error_type == "TimeoutError"
    assert caught.value.error_message == "no report for 'mars' within 50ms and nothing cached"


# -- order saga --------------------------------------------------------------------------


@pytest.fixture
def shop() -> Iterator[None]:
    order_saga.reset()
    yield
    order_saga.reset()


async def test_saga_happy_path_ships(engine: wf.Engine, shop: None) -> None:
    run = await engine.start(order_saga.process_order, "o-1", 2500, ["book", "lamp", "book"])
    result = await run.result(timeout=TIMEOUT)

    assert result["status"] == "shipped"
    assert order_saga.PAYMENTS[result["payment"]]["status"] == "charged"
    assert order_saga.SHIPMENTS["o-1"] == result["tracking"]
    assert order_saga.STOCK == {"book": 8, "lamp": 2}
    assert order_saga.CALLS == {"charge_payment": 1, "reserve_inventory": 1, "ship_order": 1}


async def test_saga_transient_shipping_error_is_retried(engine: wf.Engine, shop: None) -> None:
    run = await engine.start(order_saga.process_order, "o-2", 900, ["lamp"], fail_at="ship-once")
    result = await run.result(timeout=TIMEOUT)

    assert result["status"] == "shipped"
    assert order_saga.CALLS == {"charge_payment": 1, "reserve_inventory": 1, "ship_order": 2}
    assert "step_retrying" in await _step_kinds(run)


async def test_saga_shipping_failure_compensates_in_reverse(engine: wf.Engine, shop: None) -> None:
    run = await engine.start(
        order_saga.process_order, "o-3", 2500, ["book", "lamp"], fail_at="ship"
    )
    result = await run.result(timeout=TIMEOUT)

    assert result == {
        "order_id": "o-3",
        "status": "compensated",
        "reason": "ShippingError: carrier API unavailable",
        "compensations": ["release_inventory", "refund_payment"],
    }
    assert order_saga.CALLS == {
        "charge_payment": 1,
        "reserve_inventory": 1,
        "ship_order": 2,  # max_attempts=2
        "release_inventory": 1,
        "refund_payment": 1,
    }
    assert [p["status"] for p in order_saga.PAYMENTS.values()] == ["refunded"]
    assert order_saga.STOCK == {"book": 10, "lamp": 3}  # the reservation went back
    assert order_saga.RESERVATIONS == {}
    assert order_saga.SHIPMENTS == {}
    assert await run.status() == "completed"
    assert "step_failed" in await _step_kinds(run)


async def test_saga_out_of_stock_refunds_without_retrying(engine: wf.Engine, shop: None) -> None:
    run = await engine.start(order_saga.process_order, "o-4", 100, ["lamp"] * 5)
    result = await run.result(timeout=TIMEOUT)

    assert result["status"] == "compensated"
    assert result["reason"] == "OutOfStockError: not enough stock for lamp"
    assert result["compensations"] == ["refund_payment"]
    # OutOfStockError is a wf.FatalError: one attempt, no retry.
    assert order_saga.CALLS == {"charge_payment": 1, "reserve_inventory": 1, "refund_payment": 1}
    assert order_saga.STOCK == {"book": 10, "lamp": 3}


# -- bulk import -------------------------------------------------------------------------


@pytest.fixture
def catalog() -> Iterator[None]:
    bulk_import.reset()
    yield
    bulk_import.reset()


async def test_bulk_import_collects_successes_and_failures(
    engine: wf.Engine, catalog: None
) -> None:
    records = [
        {"sku": "a-1", "name": "Anvil", "price": 4999},
        {"sku": "b-2", "name": "", "price": 100},
        {"sku": "c-3", "name": "Catapult", "price": 150000},
        {"sku": "d-4", "name": "Dynamite", "price": -1},
        {"sku": "e-5", "name": "Earthquake pills", "price": 999},
    ]
    bulk_import.CONTENDED.add("c-3")  # its first write hits a lock timeout

    run = await engine.start(bulk_import.import_records, records)
    result = await run.result(timeout=TIMEOUT)

    assert result == {
        "imported": ["a-1", "c-3", "e-5"],
        "failed": [
            {"sku": "b-2", "error": "b-2: missing name"},
            {"sku": "d-4", "error": "d-4: price must be a non-negative integer (cents)"},
        ],
        "total": 5,
    }
    assert set(bulk_import.PRODUCTS) == {"a-1", "c-3", "e-5"}
    # Bad records fail at once (FatalError); the contended one succeeds on its retry.
    assert bulk_import.CALLS == {"a-1": 1, "b-2": 1, "c-3": 2, "d-4": 1, "e-5": 1}


async def test_bulk_import_of_nothing(engine: wf.Engine, catalog: None) -> None:
    run = await engine.start(bulk_import.import_records, [])
    assert await run.result(timeout=TIMEOUT) == {"imported": [], "failed": [], "total": 0}


# -- countdown ---------------------------------------------------------------------------


@pytest.fixture
def demo_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "demo" / "countdown.log"
    monkeypatch.setenv("WF_DEMO_LOG", str(path))
    countdown.CALLS.clear()
    return path


async def test_countdown_ticks_once_each_with_durable_pauses(
    engine: wf.Engine, demo_log: Path
) -> None:
    started = time.perf_counter()
    run = await engine.start(countdown.countdown, 4, pause="50ms")
    result = await run.result(timeout=TIMEOUT)

    assert result == ["T-4", "T-3", "T-2", "T-1"]
    assert time.perf_counter() - started >= 3 * 0.05
    lines = demo_log.read_text(encoding="utf-8").splitlines()
    assert [line.split()[0] for line in lines] == result
    assert countdown.CALLS == {4: 1, 3: 1, 2: 1, 1: 1}
    kinds = await _step_kinds(run)
    assert kinds.count("timer_fired") == 3
    assert kinds.count("step_completed") == 4


async def test_countdown_resumes_on_a_new_engine_without_repeating_ticks(
    db_url: str, demo_log: Path
) -> None:
    # First "process": stop it once two ticks are done (as Ctrl-C would).
    async with wf.Engine(db_url, poll_interval=0.05) as first:
        run = await first.start(countdown.countdown, 4, pause="100ms", run_id="demo")
        deadline = time.monotonic() + TIMEOUT
        # Stop once two ticks are *recorded*: a tick still in flight would rightly
        # run again on the next engine (steps are at-least-once).
        while [e.kind async for e in run.events()].count("step_completed") < 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.005)
        assert await run.status() != "completed"

    # Second "process": the same command again (same run id: starting is idempotent).
    async with wf.Engine(db_url, poll_interval=0.05) as second:
        run = await second.start(countdown.countdown, 4, pause="100ms", run_id="demo")
        assert await run.result(timeout=TIMEOUT) == ["T-4", "T-3", "T-2", "T-1"]

    assert countdown.CALLS == {4: 1, 3: 1, 2: 1, 1: 1}
    lines = demo_log.read_text(encoding="utf-8").splitlines()
    assert [line.split()[0] for line in lines] == ["T-4", "T-3", "T-2", "T-1"]
