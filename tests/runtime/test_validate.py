"""wf.start checks the input against the workflow's type hints before writing anything."""

from __future__ import annotations

from typing import Any

import pytest

import wf
from flows import typed


async def test_valid_input_starts(engine: wf.Engine) -> None:
    run = await engine.start(
        typed.order,
        "o-1",
        3,  # an int is a fine float
        ["book"],
        {"book": 2},
        mode="slow",
        priority=typed.Priority.HIGH,
        ship_to=typed.Address("Oslo"),
        extra=[1, "anything"],  # Any: not checked
    )
    assert await run.result(timeout=10) == "o-1:3:1:slow:high"


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((1, 3.0, [], {}), {}, "'order_id' must be str, not int 1"),
        (("o", "3", [], {}), {}, "'amount' must be float"),
        (("o", True, [], {}), {}, "'amount' must be float"),
        (("o", 1.0, ["a", 2], {}), {}, "'items[1]' must be str, not int 2"),
        (("o", 1.0, [], {"a": "2"}), {}, "\"quantities['a']\" must be int"),
        (("o", 1.0, [], {}), {"note": 5}, "'note' must be str or NoneType"),
        (("o", 1.0, [], {}), {"mode": "turbo"}, "'mode' must be one of ('fast', 'slow')"),
        (("o", 1.0, [], {}), {"priority": "low"}, "'priority' must be Priority"),
        (("o", 1.0, [], {}), {"ship_to": {"city": "Oslo"}}, "'ship_to' must be Address or"),
    ],
)
async def test_bad_input_names_the_field_and_writes_nothing(
    engine: wf.Engine, args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(TypeError) as info:
        await engine.start(typed.order, *args, **kwargs)
    assert message in str(info.value)
    assert "wrong arguments for workflow flows.typed:order" in str(info.value)
    assert await engine.list_runs() == []
