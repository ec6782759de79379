"""@wf.options(schema=...): wf.start validates the input; the workflow receives an instance."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import wf
from flows import schemas


@pytest.fixture(autouse=True)
def reset_seen() -> Iterator[None]:
    schemas.SEEN.clear()
    yield


async def test_a_dict_becomes_an_instance_also_on_replay(db_url: str) -> None:
    async with wf.Engine(db_url, poll_interval=0.02, evict_after=0.0) as engine:
        run = await engine.start(schemas.place, {"order_id": "o-1", "qty": 2, "tags": ["a"]})
        assert await run.result(timeout=10) == {"text": "o-1 x2", "tags": ["a"]}
        events = [e.kind async for e in run.events()]
    # Evicted on the sleep: the workflow body ran again from the log, and each time
    # (and in the step) it was handed an Order.
    assert events.count("timer_fired") == 1
    assert len(schemas.SEEN) >= 4
    assert set(schemas.SEEN) == {"Order"}


async def test_an_instance_is_accepted_as_is(engine: wf.Engine) -> None:
    run = await engine.start(schemas.place, schemas.Order("o-2", 1))
    assert (await run.result(timeout=10))["text"] == "o-2 x1"


async def test_the_input_may_be_passed_by_keyword(engine: wf.Engine) -> None:
    run = await engine.start(schemas.place, order={"order_id": "o-3", "qty": 3})  # type: ignore[call-arg]
    assert (await run.result(timeout=10))["text"] == "o-3 x3"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"order_id": "o", "qty": "2"}, "field 'qty' must be int, not str '2'"),
        ({"order_id": "o", "qty": 1, "tags": ["a", 3]}, "field 'tags[1]' must be str, not int 3"),
        ({"order_id": "o", "qty": 1, "colour": "red"}, "unknown field(s) colour"),
        ({"order_id": "o"}, "missing 1 required positional argument: 'qty'"),
        (["o", 1], "expected a JSON object with the fields of Order"),
    ],
)
async def test_bad_input_names_the_field_and_writes_nothing(
    engine: wf.Engine, data: Any, message: str
) -> None:
    with pytest.raises(TypeError) as info:
        await engine.start(schemas.place, data)
    text = str(info.value)
    assert text.startswith("wrong arguments for workflow flows.schemas:place: argument 'order'")
    assert "does not fit Order" in text
    assert message in text
    assert await engine.list_runs() == []


async def test_the_schema_wins_over_the_type_hint(engine: wf.Engine) -> None:
    run = await engine.start(schemas.hinted, {"order_id": "o", "qty": 1})
    assert await run.result(timeout=10) == "Order"
    with pytest.raises(TypeError, match="field 'qty' must be int"):
        await engine.start(schemas.hinted, {"order_id": "o", "qty": "1"})


async def test_a_schema_workflow_takes_exactly_one_parameter(engine: wf.Engine) -> None:
    with pytest.raises(TypeError) as info:
        await engine.start(schemas.two_params, {"order_id": "o", "qty": 1}, 2)
    assert str(info.value) == (
        "wrong arguments for workflow flows.schemas:two_params: a workflow with schema=Order"
        " takes exactly one parameter (the input to validate), but it takes order: 'Order',"
        " extra: 'int'"
    )
    assert await engine.list_runs() == []


async def test_a_child_start_is_validated_and_coerced_too(engine: wf.Engine) -> None:
    run = await engine.start(schemas.parent, {"order_id": "c-1", "qty": 5})
    result = await run.result(timeout=10)
    assert result["child"] == {"text": "c-1 x5", "tags": []}
    assert "wrong arguments for workflow flows.schemas:place" in result["refused"]
    assert "field 'qty' must be int, not str 'many'" in result["refused"]
    # The refused child was never created: only the parent and one child exist.
    assert sorted(r.run_id for r in await engine.list_runs()) == sorted([run.id, f"{run.id}.0"])


async def test_a_pydantic_model_as_schema(engine: wf.Engine) -> None:
    pytest.importorskip("pydantic")
    from flows import schemas_pydantic

    run = await engine.start(schemas_pydantic.ship, {"city": "Oslo", "weight": "2.5"})
    assert await run.result(timeout=10) == "Shipment Oslo 2.5"
    with pytest.raises(TypeError) as info:
        await engine.start(schemas_pydantic.ship, {"city": "Oslo", "weight": "heavy"})
    assert "argument 'shipment' does not fit Shipment" in str(info.value)
    assert "weight" in str(info.value)


def test_the_schema_option_takes_a_module_level_dataclass_or_model() -> None:
    doc = " ".join(["use", "workflow"])  # written out, the import hook would compile this

    def make() -> Any:
        async def flow(data: Any) -> None:
            pass

        flow.__doc__ = doc
        return flow

    class Local:
        pass

    with pytest.raises(TypeError, match=r"schema must be a dataclass or a pydantic model class"):
        wf.options(schema=dict)(make())
    with pytest.raises(TypeError, match=r"got class .*Local"):
        wf.options(schema=Local)
    with pytest.raises(TypeError, match=r"got str 'Order'"):
        wf.options(schema="Order")
    import dataclasses

    local = dataclasses.make_dataclass("Local", ["x"])
    local.__qualname__ = "test.<locals>.Local"
    with pytest.raises(TypeError, match=r"must be defined at module level"):
        wf.options(schema=local)
    with pytest.raises(TypeError, match=r"option 'schema' applies to workflows"):
        step = make()
        step.__doc__ = None
        wf.options(schema=schemas.Order)(step)
