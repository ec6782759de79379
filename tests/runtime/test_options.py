from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import random
from collections.abc import Callable
from typing import Any

import pytest

from wf._options import (
    StepOptions,
    WorkflowOptions,
    backoff_delay,
    options,
    step_options,
    workflow_options,
)

# Directives are assembled at run time: written out, the import hook would
# compile this module and refuse the nested functions.
STEP_DOC = " ".join(["use", "step"])
WORKFLOW_DOC = " ".join(["use", "workflow"])


def make_step() -> Callable[..., Any]:
    async def charge(order_id: str) -> str:
        return order_id

    charge.__doc__ = STEP_DOC
    return charge


def make_workflow() -> Callable[..., Any]:
    async def process(order_id: str) -> None:
        pass

    process.__doc__ = WORKFLOW_DOC
    return process


def test_defaults_when_absent() -> None:
    assert step_options(make_step()) == StepOptions(
        max_attempts=4, backoff="exponential", initial_interval=1.0, max_interval=60.0, timeout=None
    )
    assert workflow_options(make_workflow()) == WorkflowOptions(
        version=None, schema=None, timeout=None
    )
    assert step_options(print) == StepOptions()


def test_step_options_are_stored_normalised() -> None:
    fn = make_step()
    result = options(
        max_attempts=5,
        backoff="fixed",
        initial_interval="500ms",
        max_interval=dt.timedelta(minutes=2),
        timeout=30,
    )(fn)
    assert result is fn
    opts = step_options(fn)
    assert opts == StepOptions(
        max_attempts=5, backoff="fixed", initial_interval=0.5, max_interval=120.0, timeout=30.0
    )
    assert type(opts.timeout) is float
    assert fn.__wf_options__ is opts  # type: ignore[attr-defined]


@dataclasses.dataclass
class Schema:
    order_id: str


def test_workflow_options_are_stored() -> None:
    fn = options(version="v2", schema=Schema, timeout="1h")(make_workflow())
    assert workflow_options(fn) == WorkflowOptions(version="v2", schema=Schema, timeout=3600.0)
    # A workflow has no step options.
    assert step_options(fn) == StepOptions()


def test_options_are_frozen() -> None:
    opts = step_options(options(max_attempts=2)(make_step()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.max_attempts = 3  # type: ignore[misc]


def test_timeout_applies_to_both_kinds() -> None:
    assert step_options(options(timeout="2s")(make_step())).timeout == 2.0
    assert workflow_options(options(timeout="2s")(make_workflow())).timeout == 2.0
    assert step_options(options(timeout=None)(make_step())).timeout is None


def test_unknown_option_is_rejected_at_once() -> None:
    with pytest.raises(TypeError) as info:
        options(retries=3)
    message = str(info.value)
    assert "unknown option 'retries'" in message
    assert "steps accept max_attempts, backoff, initial_interval, max_interval, timeout" in message
    assert "workflows accept version, schema, timeout" in message


def test_option_of_the_other_kind() -> None:
    with pytest.raises(TypeError) as info:
        options(version="v2")(make_step())
    message = str(info.value)
    assert "option 'version' applies to workflows" in message
    assert "is a step; a step accepts max_attempts, backoff" in message
    with pytest.raises(TypeError, match=r"option 'max_attempts' applies to steps.*is a workflow"):
        options(max_attempts=3)(make_workflow())


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"max_attempts": 0}, ValueError, r"max_attempts must be an int >= 1, got 0"),
        ({"max_attempts": -1}, ValueError, r"max_attempts must be an int >= 1"),
        ({"max_attempts": "3"}, TypeError, r"max_attempts must be an int >= 1, got str '3'"),
        ({"max_attempts": True}, TypeError, r"got bool True"),
        ({"max_attempts": 2.0}, TypeError, r"got float 2.0"),
        ({"backoff": "linear"}, ValueError, r"backoff must be one of 'exponential', 'fixed', "),
        ({"backoff": None}, ValueError, r"backoff must be one of .* got None"),
        ({"initial_interval": "soon"}, ValueError, r"initial_interval: invalid duration 'soon'"),
        ({"initial_interval": "100"}, ValueError, r"bare numbers are seconds only"),
        ({"initial_interval": -1}, ValueError, r"initial_interval must be zero or positive"),
        ({"max_interval": "-5s"}, ValueError, r"max_interval must be zero or positive"),
        ({"max_interval": [1]}, TypeError, r"max_interval: expected a duration"),
        ({"timeout": 0}, ValueError, r"timeout must be positive, got 0"),
        ({"timeout": float("nan")}, ValueError, r"timeout: invalid duration nan"),
        ({"timeout": True}, TypeError, r"timeout: expected a duration .* got bool"),
        ({"version": ""}, TypeError, r"version must be a non-empty str, got ''"),
        ({"version": 2}, TypeError, r"version must be a non-empty str, got 2"),
    ],
)
def test_bad_values(kwargs: dict[str, Any], error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        options(**kwargs)


def test_zero_intervals_are_allowed() -> None:
    opts = step_options(options(initial_interval=0, max_interval=0)(make_step()))
    assert (opts.initial_interval, opts.max_interval) == (0.0, 0.0)


def test_initial_longer_than_default_cap_raises_the_cap() -> None:
    opts = step_options(options(initial_interval="5m")(make_step()))
    assert opts.max_interval == 300.0


def test_initial_longer_than_explicit_cap_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"initial_interval \(10 s\) is longer than max_interval"):
        options(initial_interval=10, max_interval=5)(make_step())


def test_decorating_a_non_function() -> None:
    with pytest.raises(TypeError, match="decorates a step or workflow function, got int"):
        options(max_attempts=2)(5)  # type: ignore[type-var]


def test_functools_wraps_wrapper_carries_options() -> None:
    fn = options(max_attempts=7)(make_step())

    @functools.wraps(fn)
    async def wrapper(*args: Any) -> Any:
        return await fn(*args)

    assert step_options(wrapper).max_attempts == 7


def test_wrapped_chain_is_followed() -> None:
    fn = options(max_attempts=6)(make_step())

    def wrapper() -> None:
        pass

    wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
    assert step_options(wrapper).max_attempts == 6


def test_options_on_a_wrapper_merge_with_the_inherited_ones() -> None:
    fn = options(max_attempts=7, backoff="fixed")(make_step())

    @functools.wraps(fn)
    async def wrapper(*args: Any) -> Any:
        return await fn(*args)

    options(max_attempts=2)(wrapper)
    assert step_options(wrapper) == dataclasses.replace(
        StepOptions(), max_attempts=2, backoff="fixed"
    )
    assert step_options(fn).max_attempts == 7


def test_stacked_decorators_merge_outer_wins() -> None:
    step = options(max_attempts=3)(options(max_attempts=9, timeout="1s")(make_step()))
    assert step_options(step) == dataclasses.replace(StepOptions(), max_attempts=3, timeout=1.0)


# -- backoff ------------------------------------------------------------------------


@pytest.mark.parametrize("attempt", range(1, 12))
def test_exponential_backoff_bounds(attempt: int) -> None:
    opts = StepOptions(initial_interval=1.0, max_interval=60.0)
    ceiling = min(2.0 ** (attempt - 1), 60.0)
    rng = random.Random(attempt)
    delays = [backoff_delay(opts, attempt, rng) for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    # Jitter actually spreads the delays out.
    assert max(delays) - min(delays) > ceiling / 4


def test_backoff_is_deterministic_for_a_seeded_rng() -> None:
    opts = StepOptions()
    first = [backoff_delay(opts, n, random.Random(42)) for n in range(1, 6)]
    second = [backoff_delay(opts, n, random.Random(42)) for n in range(1, 6)]
    assert first == second


def test_huge_attempt_numbers_stay_capped() -> None:
    opts = StepOptions(initial_interval=0.1, max_interval=30.0)
    assert 15.0 <= backoff_delay(opts, 10_000, random.Random(0)) <= 30.0


def test_fixed_and_none_backoff() -> None:
    rng = random.Random(0)
    fixed = StepOptions(backoff="fixed", initial_interval=2.5)
    assert [backoff_delay(fixed, n, rng) for n in (1, 2, 10)] == [2.5, 2.5, 2.5]
    none = StepOptions(backoff="none", initial_interval=2.5)
    assert backoff_delay(none, 3, rng) == 0.0


def test_zero_initial_interval() -> None:
    assert backoff_delay(StepOptions(initial_interval=0.0), 5, random.Random(0)) == 0.0


@pytest.mark.parametrize("attempt", [0, -1, 1.0, True])
def test_backoff_rejects_bad_attempt(attempt: Any) -> None:
    with pytest.raises(ValueError, match="attempt must be an int >= 1"):
        backoff_delay(StepOptions(), attempt, random.Random(0))
