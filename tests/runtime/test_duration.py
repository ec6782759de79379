from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wf.runtime._duration import parse_duration, to_seconds, wake_time

SPELLINGS: dict[str, tuple[str, ...]] = {
    "ms": ("ms", "msec", "msecs", "millisecond", "milliseconds"),
    "s": ("s", "sec", "secs", "second", "seconds"),
    "m": ("m", "min", "mins", "minute", "minutes"),
    "h": ("h", "hr", "hrs", "hour", "hours"),
    "d": ("d", "day", "days"),
    "w": ("w", "week", "weeks"),
    "mo": ("mo", "month", "months"),
    "y": ("y", "yr", "yrs", "year", "years"),
}
SECONDS_PER = {
    "ms": Decimal("0.001"),
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
    "d": Decimal(86400),
    "w": Decimal(7 * 86400),
    "mo": Decimal("30.4375") * 86400,
    "y": Decimal("365.25") * 86400,
}
ALL_SPELLINGS = [(unit, spelling) for unit, names in SPELLINGS.items() for spelling in names]


@pytest.mark.parametrize(("unit", "spelling"), ALL_SPELLINGS)
def test_every_spelling_of_every_unit(unit: str, spelling: str) -> None:
    expected = dt.timedelta(seconds=float(2 * SECONDS_PER[unit]))
    assert parse_duration(f"2{spelling}") == expected
    assert parse_duration(f"2 {spelling}") == expected
    assert parse_duration(f"2{spelling.upper()}") == expected
    assert parse_duration(f"2 {spelling.title()}") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.5h", dt.timedelta(hours=1.5)),
        (".5s", dt.timedelta(milliseconds=500)),
        ("0.25 ms", dt.timedelta(microseconds=250)),
        ("7 days", dt.timedelta(days=7)),
        ("30 s", dt.timedelta(seconds=30)),
        ("10\tMIN", dt.timedelta(minutes=10)),
        ("1.s", dt.timedelta(seconds=1)),
        ("0s", dt.timedelta(0)),
        ("1.1h", dt.timedelta(seconds=3960)),
        ("1mo", dt.timedelta(days=30.4375)),
        ("1 month", dt.timedelta(days=30, hours=10, minutes=30)),
        ("1y", dt.timedelta(days=365.25)),
        ("2 years", dt.timedelta(days=730.5)),
        ("1w", dt.timedelta(days=7)),
    ],
)
def test_forms(text: str, expected: dt.timedelta) -> None:
    assert parse_duration(text) == expected


def test_m_is_minutes_and_mo_is_months() -> None:
    assert parse_duration("1m") == dt.timedelta(minutes=1)
    assert parse_duration("1M") == dt.timedelta(minutes=1)
    assert parse_duration("1Mo") == dt.timedelta(days=30.4375)


def test_negative_via_parse_duration() -> None:
    assert parse_duration("-5s") == dt.timedelta(seconds=-5)
    assert parse_duration("-1.5 h") == -dt.timedelta(hours=1.5)
    assert parse_duration("-0s") == dt.timedelta(0)


@pytest.mark.parametrize(
    "text", ["100", "", "   ", "abc", "5 parsecs", "1..5s", "7 dayz", "s", "-s", "1e3s", "+5s",
             "- 5s", "5s5s", "1,5h", "٣s", "5\ns"]
)  # fmt: skip
def test_bad_strings(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    message = str(info.value)
    assert f"invalid duration {text!r}" in message
    assert "a number followed by a unit (ms, s, m, h, d, w, mo, y" in message
    assert "bare numbers are seconds only when passed as int or float" in message


@pytest.mark.parametrize("text", [" 5s", "5s ", "  30s  ", "\t10 MIN\n", " -1.5 h", "5s\n"])
def test_leading_or_trailing_whitespace_is_refused(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    message = str(info.value)
    assert f"invalid duration {text!r}: leading or trailing whitespace is not accepted" in message
    assert "a number followed by a unit (ms, s, m, h, d, w, mo, y" in message


@pytest.mark.parametrize("text", ["1e400s", "1e400", "9" * 400 + "s", "20000000y"])
def test_overflowing_durations_are_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=f"invalid duration {text!r}"):
        parse_duration(text)
    with pytest.raises(ValueError, match=f"invalid duration {text!r}"):
        to_seconds(text)


def test_too_long() -> None:
    with pytest.raises(ValueError, match="too long"):
        parse_duration("99999999999 years")


@pytest.mark.parametrize("value", [None, 5, 1.5, b"5s", dt.timedelta(1)])
def test_parse_duration_takes_str_only(value: object) -> None:
    with pytest.raises(TypeError, match=f"expects a str .* got {type(value).__name__}"):
        parse_duration(value)  # type: ignore[arg-type]


def test_to_seconds_accepts_numbers_timedeltas_and_strings() -> None:
    assert to_seconds(5) == 5.0
    assert type(to_seconds(5)) is float
    assert to_seconds(0.25) == 0.25
    assert to_seconds(0) == 0.0
    assert to_seconds(dt.timedelta(minutes=2)) == 120.0
    assert to_seconds("1.5h") == 5400.0
    assert to_seconds("100ms") == 0.1


@pytest.mark.parametrize("value", [None, True, False, [5], b"5s", object()])
def test_to_seconds_type_errors_name_accepted_types(value: object) -> None:
    with pytest.raises(TypeError) as info:
        to_seconds(value)  # type: ignore[arg-type]
    message = str(info.value)
    assert type(value).__name__ in message
    assert "int or float seconds, a datetime.timedelta, or a duration string" in message


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_to_seconds_rejects_non_finite(value: float) -> None:
    with pytest.raises(ValueError, match="must be a finite number of seconds"):
        to_seconds(value)


def test_to_seconds_rejects_huge_int() -> None:
    with pytest.raises(ValueError, match="too large"):
        to_seconds(10**400)


@pytest.mark.parametrize("value", [-1, -0.5, dt.timedelta(seconds=-1), "-5s"])
def test_to_seconds_rejects_negative(value: object) -> None:
    with pytest.raises(ValueError, match=r"cannot sleep a negative duration: "):
        to_seconds(value)  # type: ignore[arg-type]
    assert to_seconds(value, allow_negative=True) < 0  # type: ignore[arg-type]


def test_to_seconds_bad_string_is_value_error() -> None:
    with pytest.raises(ValueError, match="invalid duration '100'"):
        to_seconds("100")


def test_wake_time_relative() -> None:
    assert wake_time(10, now=1000.0) == 1010.0
    assert wake_time("1m", now=1000.0) == 1060.0
    assert wake_time(dt.timedelta(seconds=1.5), now=0.0) == 1.5


def test_wake_time_absolute_aware_datetime() -> None:
    when = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    assert wake_time(when, now=0.0) == when.timestamp()
    eastern = dt.datetime(2030, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert wake_time(eastern, now=0.0) == when.timestamp() + 5 * 3600


def test_wake_time_past_datetime_is_fine() -> None:
    past = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    assert wake_time(past, now=2e9) == past.timestamp()


def test_wake_time_rejects_naive_datetime() -> None:
    with pytest.raises(ValueError, match=r"naive datetime 2030-01-01T00:00:00.*timezone-aware"):
        wake_time(dt.datetime(2030, 1, 1), now=0.0)


def test_wake_time_rejects_date_and_other_types() -> None:
    with pytest.raises(TypeError, match="timezone-aware datetime"):
        wake_time(dt.date(2030, 1, 1), now=0.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="NoneType"):
        wake_time(None, now=0.0)  # type: ignore[arg-type]


def test_wake_time_rejects_negative_relative() -> None:
    with pytest.raises(ValueError, match="cannot sleep a negative duration: '-1s'"):
        wake_time("-1s", now=100.0)
    with pytest.raises(ValueError, match="cannot sleep a negative duration"):
        wake_time(-1, now=100.0)


numbers = st.one_of(
    st.integers(min_value=0, max_value=10**6).map(str),
    st.decimals(min_value=0, max_value=10**5, places=3, allow_nan=False).map(
        lambda d: format(d, "f")
    ),
    st.integers(min_value=0, max_value=999).map(lambda n: f".{n:03d}"),
)


@given(
    number=numbers,
    spelling=st.sampled_from(ALL_SPELLINGS),
    space=st.sampled_from(["", " ", "  ", "\t"]),
    upper=st.booleans(),
    negative=st.booleans(),
)
def test_property_number_and_unit(
    number: str, spelling: tuple[str, str], space: str, upper: bool, negative: bool
) -> None:
    unit, name = spelling
    text = f"{'-' if negative else ''}{number}{space}{name.upper() if upper else name}"
    seconds = Decimal(number) * SECONDS_PER[unit]
    expected_us = int((seconds * 1_000_000).to_integral_value())
    result = parse_duration(text)
    assert result == dt.timedelta(microseconds=-expected_us if negative else expected_us)
    # Agrees with timedelta's own float arithmetic to the microsecond.
    assert abs(result.total_seconds() - float(-seconds if negative else seconds)) <= 1e-6 * max(
        1.0, float(seconds) * 1e-9
    )
