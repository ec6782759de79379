"""Durations as users write them: seconds, ``timedelta`` or strings like ``"1.5h"``.

The string grammar follows the ``ms`` package the TypeScript workflow SDKs use,
so a duration copied from one of their examples means the same thing here: a
month is 30.4375 days and a year 365.25 days (the Julian year).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from decimal import Decimal

__all__ = ["ACCEPTED_FORMS", "parse_duration", "to_seconds", "wake_time"]

_SECOND = Decimal(1)
_MINUTE = 60 * _SECOND
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR

# Seconds per unit, as exact decimals so "1.1h" is exactly 3960 s.
_UNITS: dict[str, Decimal] = {}
for _spellings, _seconds in (
    (("ms", "msec", "msecs", "millisecond", "milliseconds"), Decimal("0.001")),
    (("s", "sec", "secs", "second", "seconds"), _SECOND),
    (("m", "min", "mins", "minute", "minutes"), _MINUTE),
    (("h", "hr", "hrs", "hour", "hours"), _HOUR),
    (("d", "day", "days"), _DAY),
    (("w", "week", "weeks"), 7 * _DAY),
    (("mo", "month", "months"), Decimal("30.4375") * _DAY),
    (("y", "yr", "yrs", "year", "years"), Decimal("365.25") * _DAY),
):
    for _spelling in _spellings:
        _UNITS[_spelling] = _seconds
del _spellings, _seconds, _spelling

# Only ASCII digits: str.isdigit-style Unicode digits would let odd input through.
# No whitespace around the duration: " 5s" is refused like "5s5s", so a value read
# from a file or a form must be stripped on purpose, not by accident.
_PATTERN = re.compile(r"(-?)((?:[0-9]+(?:\.[0-9]*)?)|(?:\.[0-9]+))[ \t]*([a-zA-Z]+)", re.ASCII)

ACCEPTED_FORMS = (
    'a number followed by a unit (ms, s, m, h, d, w, mo, y — e.g. "30s", "1.5h", "7 days")'
)
_BARE_NUMBERS = "bare numbers are seconds only when passed as int or float"
_ACCEPTED_TYPES = "int or float seconds, a datetime.timedelta, or a duration string like '30s'"

_MAX_SECONDS = Decimal(_dt.timedelta.max.total_seconds())


def parse_duration(text: str) -> _dt.timedelta:
    """Parse ``"30s"``, ``"1.5h"``, ``"7 days"``, ``"-2m"`` … into a ``timedelta``.

    Negative durations are allowed here (``"-5s"``); sleeping one is not, which
    :func:`to_seconds` and :func:`wake_time` enforce.
    """
    if not isinstance(text, str):
        raise TypeError(
            f"parse_duration() expects a str such as '30s' or '7 days', "
            f"got {type(text).__name__} {text!r}"
        )
    match = _PATTERN.fullmatch(text)
    unit = _UNITS.get(match.group(3).lower()) if match else None
    if match is None or unit is None:
        spaced = text != text.strip() and _PATTERN.fullmatch(text.strip()) is not None
        why = "leading or trailing whitespace is not accepted; " if spaced else ""
        raise ValueError(
            f"invalid duration {text!r}: {why}expected {ACCEPTED_FORMS}; {_BARE_NUMBERS}"
        )
    seconds = Decimal(match.group(2)) * unit
    if seconds > _MAX_SECONDS:
        raise ValueError(
            f"invalid duration {text!r}: too long (the longest is about 2.7 million years)"
        )
    # Whole microseconds, rounded half-even like timedelta's own float constructor.
    micros = int((seconds * 1_000_000).to_integral_value())
    return _dt.timedelta(microseconds=-micros if match.group(1) else micros)


def to_seconds(value: int | float | _dt.timedelta | str, *, allow_negative: bool = False) -> float:
    """Normalise a relative duration to float seconds.

    Numbers are seconds, strings go through :func:`parse_duration`. ``bool``
    is refused although it is an ``int``: ``sleep(True)`` is always a mistake.
    """
    kind = type(value)
    if kind is bool or not isinstance(value, int | float | _dt.timedelta | str):
        raise TypeError(f"expected a duration ({_ACCEPTED_TYPES}), got {kind.__name__} {value!r}")
    if isinstance(value, str):
        seconds = parse_duration(value).total_seconds()
    elif isinstance(value, _dt.timedelta):
        seconds = value.total_seconds()
    else:
        try:
            seconds = float(value)
        except OverflowError:
            raise ValueError(f"invalid duration {value!r}: too large") from None
        if not math.isfinite(seconds):
            raise ValueError(f"invalid duration {value!r}: must be a finite number of seconds")
    if seconds < 0 and not allow_negative:
        raise ValueError(f"cannot sleep a negative duration: {value!r}")
    return seconds


def wake_time(value: int | float | _dt.timedelta | str | _dt.datetime, now: float) -> float:
    """The epoch-seconds time at which a sleep of ``value`` started at ``now`` ends.

    An aware ``datetime`` is an absolute deadline; one already past is fine
    (the sleep ends at once, like ``asyncio.sleep(0)``). A naive one is
    refused: whether it means UTC or the worker's local zone would depend on
    which machine replays the run.
    """
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"cannot sleep until naive datetime {value.isoformat()}: pass a timezone-aware "
                f"datetime, e.g. datetime(..., tzinfo=timezone.utc)"
            )
        return value.timestamp()
    if isinstance(value, _dt.date):
        raise TypeError(
            f"cannot sleep until a date ({value.isoformat()}): pass a timezone-aware datetime"
        )
    if type(value) is bool or not isinstance(value, int | float | _dt.timedelta | str):
        raise TypeError(
            f"expected a duration ({_ACCEPTED_TYPES}) or a timezone-aware datetime, "
            f"got {type(value).__name__} {value!r}"
        )
    return now + to_seconds(value)
