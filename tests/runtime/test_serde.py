from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
import uuid
import zoneinfo
from decimal import Decimal
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wf._errors import FatalError, RetryableError, SerializationError, WorkflowError
from wf.runtime import _limits, _serde
from wf.runtime._serde import decode_exception, dumps, encode_exception, loads, register_type

# -- module-level types the serializer can import back ---------------------------


class Color(enum.Enum):
    RED = "red"
    GREEN = (0, 255, 0)


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Mode(enum.StrEnum):
    FAST = "fast"


class Perm(enum.Flag):
    R = 1
    W = 2


@dataclasses.dataclass
class Line:
    sku: str
    qty: int = 1
    tags: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Order:
    id: uuid.UUID
    lines: list[Line]
    placed: dt.datetime
    total: Decimal = Decimal(0)
    computed: int = dataclasses.field(init=False, default=0, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "computed", len(self.lines))


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


class Pair(NamedTuple):
    left: Any
    right: Any


class Conn:
    pass


class Money:
    def __init__(self, cents: int, currency: str) -> None:
        self.cents, self.currency = cents, currency

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and (self.cents, self.currency) == (
            other.cents,
            other.currency,
        )

    def __hash__(self) -> int:
        return hash((self.cents, self.currency))


class SpecialMoney(Money):
    pass


register_type(
    Money,
    name="test.money",
    encode=lambda m: {"cents": m.cents, "currency": m.currency},
    decode=lambda d: Money(d["cents"], d["currency"]),
)


class PaymentDeclined(Exception):
    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class NeedsTwoArgs(Exception):
    def __init__(self, order_id: str, reason: str) -> None:
        super().__init__(f"order {order_id}: {reason}")
        self.order_id = order_id


# -- helpers ----------------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (nan equals nan)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and str(a) == str(b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(
            same(ka, kb) and same(a[ka], b[kb]) for ka, kb in zip(a, b, strict=True)
        )
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dt.datetime | dt.time):
        return a == b and a.tzinfo == b.tzinfo and a.isoformat() == b.isoformat()
    if isinstance(a, Decimal):
        return str(a) == str(b)
    return bool(a == b)


def round_trip(value: Any) -> Any:
    text = dumps(value)
    json.loads(text)  # always strict JSON
    return loads(text)


def check(value: Any) -> None:
    result = round_trip(value)
    assert same(result, value), (value, result)


# -- plain JSON -------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        -7,
        2**64,
        -(2**200),
        1.5,
        -0.0,
        1e308,
        "",
        "héllo ☃ \u2028",
        "__wf__",
        [],
        {},
        {"a": [1, {"b": None}], "c": "d"},
        [[[]]],
    ],
)
def test_plain_values_pass_through_as_json(value: Any) -> None:
    text = dumps(value)
    assert json.loads(text) == value
    assert text == json.dumps(value, separators=(",", ":"))
    check(value)


def test_dict_order_is_kept() -> None:
    value = {"z": 1, "a": 2, "m": 3}
    assert list(round_trip(value)) == ["z", "a", "m"]


def test_lone_surrogates_survive() -> None:
    check("\ud800x")


# -- tagged types -----------------------------------------------------------------

UTC = dt.UTC
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2030, 1, 2, 3, 4, 5, 678901),
        dt.datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        dt.datetime(2030, 1, 2, 3, 4, 5, 1, tzinfo=IST),
        dt.datetime(1, 1, 1),
        dt.date(2030, 12, 31),
        dt.time(23, 59, 59, 999999),
        dt.time(1, 2, 3, 4, tzinfo=dt.timezone(dt.timedelta(hours=-3))),
        dt.timedelta(days=-3, seconds=5, microseconds=7),
        dt.timedelta.max,
        Decimal("3.14159265358979323846264338327950288"),
        Decimal("-0.00"),
        Decimal("1E+30"),
        Decimal("Infinity"),
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        b"",
        b"\x00\xff\x80binary",
        bytearray(b"mutable"),
        (),
        (1,),
        (1, "a", None, (2.5, [3])),
        set(),
        {1, 2, 3},
        frozenset({"a", "b"}),
        {frozenset({1}), frozenset({2, 3})},
        math.nan,
        math.inf,
        -math.inf,
        10**5000,
        -(10**5000),
    ],
    ids=lambda v: type(v).__name__,
)
def test_tagged_round_trip(value: Any) -> None:
    check(value)
    assert "__wf__" in dumps(value)


def test_zoneinfo_key_is_kept() -> None:
    try:
        zone = zoneinfo.ZoneInfo("Europe/Paris")
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip("no time zone data")
    value = dt.datetime(2030, 7, 1, 12, 0, 0, 5, tzinfo=zone)
    result = round_trip(value)
    assert result == value
    assert result.tzinfo == zone
    assert result.utcoffset() == dt.timedelta(hours=2)


def test_decimal_nan() -> None:
    result = round_trip(Decimal("NaN"))
    assert type(result) is Decimal and result.is_nan()


@pytest.mark.parametrize(
    "value",
    [Color.RED, Color.GREEN, Priority.HIGH, Mode.FAST, Perm.R | Perm.W, Perm(0)],
    ids=repr,
)
def test_enums(value: enum.Enum) -> None:
    result = round_trip(value)
    assert result is value or (isinstance(value, enum.Flag) and result == value)
    assert type(result) is type(value)


def test_int_and_str_enums_are_not_flattened_inside_plain_containers() -> None:
    result = round_trip({"p": Priority.LOW, "m": [Mode.FAST]})
    assert result["p"] is Priority.LOW
    assert result["m"][0] is Mode.FAST


def test_dataclasses_nested() -> None:
    order = Order(
        id=uuid.UUID(int=7),
        lines=[Line("A1", 2, ("x",)), Line("B2")],
        placed=dt.datetime(2030, 1, 1, tzinfo=UTC),
        total=Decimal("12.50"),
    )
    result = round_trip(order)
    assert result == order
    assert type(result.lines[0]) is Line
    assert result.lines[0].tags == ("x",)
    assert result.computed == 2


def test_namedtuple() -> None:
    value = Pair(1, (2, {3}))
    result = round_trip(value)
    assert type(result) is Pair
    assert same(tuple(result), tuple(value))


def test_pydantic_models() -> None:
    pydantic = pytest.importorskip("pydantic")

    global Address, Customer  # defined at module level so they import back

    class Address(pydantic.BaseModel):  # type: ignore[no-redef]
        city: str
        since: dt.date

    class Customer(pydantic.BaseModel):  # type: ignore[no-redef]
        name: str
        tags: set[str]
        address: Address
        created: dt.datetime

    Address.__qualname__ = "Address"
    Customer.__qualname__ = "Customer"
    value = Customer(
        name="Ada",
        tags={"vip", "new"},
        address=Address(city="Paris", since=dt.date(2020, 1, 1)),
        created=dt.datetime(2030, 1, 1, 12, tzinfo=UTC),
    )
    result = round_trip({"customer": value})["customer"]
    assert type(result) is Customer
    assert type(result.address) is Address
    assert result == value


def test_deep_nesting_of_tagged_types() -> None:
    value = {
        "t": (1, {frozenset({(1, 2), (3, 4)})}, [dt.date(2030, 1, 1), {"k": (b"x",)}]),
        "set_of_tuples": {(1, "a"), (2, "b")},
        "line": Line("A", 1, ("p", "q")),
        "exc_free": [Color.RED, {Point(1, 2): Priority.LOW}],
    }
    check(value)


def test_sets_are_written_in_a_deterministic_order() -> None:
    a = {"pear", "apple", "fig", 10, 9, (1, 2)}
    b = set(reversed(list(a)))
    assert dumps(a) == dumps(b)
    assert dumps(frozenset(a)) == dumps(frozenset(b))


def test_dicts_with_non_str_keys() -> None:
    value = {1: "int", 2.5: "float", None: "none", False: "bool", (1, 2): "tuple", "s": "str"}
    check(value)
    check({Point(1, 2): [Color.RED], frozenset({1}): {}, uuid.UUID(int=1): 1})
    check({Priority.HIGH: 1})


def test_dicts_holding_the_reserved_key_round_trip() -> None:
    value = {"__wf__": "datetime", "v": "2030-01-01"}
    assert round_trip(value) == value
    nested = {"outer": [{"__wf__": "tuple", "v": [1]}], "__wf__": {"__wf__": 1}}
    assert round_trip(nested) == nested
    assert same(round_trip({"x": ({"__wf__": None},)}), {"x": ({"__wf__": None},)})


def test_plain_parts_next_to_tagged_ones_are_unchanged() -> None:
    value = {"a": {"b": [1, 2, {"c": "d"}]}, "when": dt.date(2030, 1, 1), "z": [1.5, None]}
    check(value)
    text = dumps(value)
    assert '"a":{"b":[1,2,{"c":"d"}]}' in text


def test_tuple_inside_list_is_not_turned_into_a_list() -> None:
    result = round_trip([1, (2, 3), [4, (5,)]])
    assert type(result[1]) is tuple
    assert type(result[2][1]) is tuple


# -- unsupported values -----------------------------------------------------------


def test_unsupported_value_names_type_and_path() -> None:
    with pytest.raises(SerializationError) as info:
        dumps({"order": 1, "conn": Conn()}, where="args")
    message = str(info.value)
    assert message.startswith(
        f"cannot serialize value of type '{Conn.__module__}.Conn' at args['conn']: "
        "supported types are None, bool, int, float, str, list, dict, tuple"
    )
    assert message.endswith("register others with wf.register_type(...)")
    assert isinstance(info.value, TypeError)


@pytest.mark.parametrize(
    ("value", "path"),
    [
        (Conn(), "value"),
        ([1, 2, Conn()], "value[2]"),
        ((1, [Conn()]), "value[1][0]"),
        ({"a": {"b": (0, {"c": Conn()})}}, "value['a']['b'][1]['c']"),
        ({1: Conn()}, "value[1]"),
        ({(1, Conn()): 1}, "value[<key (1, <"),
        (Line("A", Conn()), "value.qty"),  # type: ignore[arg-type]
        ({frozenset({1}): {Conn()}}, "value[frozenset({1})]"),
    ],
)
def test_unsupported_paths(value: Any, path: str) -> None:
    with pytest.raises(SerializationError, match="cannot serialize") as info:
        dumps(value)
    assert f" at {path}" in str(info.value)


def test_runtime_where_prefix() -> None:
    with pytest.raises(SerializationError) as info:
        dumps(Conn(), where="step app.orders:charge argument 'conn'")
    assert "at step app.orders:charge argument 'conn':" in str(info.value)


def test_functions_and_classes_are_unsupported() -> None:
    with pytest.raises(SerializationError, match="type 'function'"):
        dumps(lambda: None)
    with pytest.raises(SerializationError, match="type 'type'"):
        dumps(Line)


def test_local_classes_are_refused_when_written() -> None:
    @dataclasses.dataclass
    class Local:
        x: int

    with pytest.raises(SerializationError, match="defined inside a function"):
        dumps({"v": Local(1)})


def test_builtin_subclasses_are_refused_with_a_hint() -> None:
    import collections

    with pytest.raises(SerializationError, match=r"subclasses of dict .* dict\(\.\.\.\)"):
        dumps(collections.OrderedDict(a=1))
    with pytest.raises(SerializationError, match="subclasses of str"):
        dumps(type("MyStr", (str,), {})("x"))


def test_cycles_are_an_error_not_a_crash() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(SerializationError, match="reference to itself"):
        dumps(loop)
    loop2: list[Any] = [(1,)]
    loop2.append(loop2)
    with pytest.raises(SerializationError, match="reference to itself"):
        dumps(loop2)


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_values_entering_wf_may_nest_at_most_the_limit() -> None:
    limit = _limits.MAX_NESTING
    assert loads(dumps(_nested(limit), nesting_below=0)) == _nested(limit)
    with pytest.raises(_limits.NestingError, match=f"payload is nested more than {limit}"):
        dumps(_nested(limit + 1), where="payload", nesting_below=0)
    # Tagged types count as stored: a tuple is an object holding a list (two levels).
    tuples: Any = ()
    for _ in range(limit // 2):
        tuples = (tuples,)
    with pytest.raises(ValueError, match="nested more than"):
        dumps(tuples, nesting_below=0)
    # Far past Python's recursion limit it is the same error, not a RecursionError.
    with pytest.raises(_limits.NestingError):
        dumps(_nested(100_000), nesting_below=0)
    # Below an envelope: {"args": [value]} holds the value two levels down.
    envelope = {"args": [_nested(limit)], "kwargs": {}}
    assert dumps(envelope, nesting_below=2) == json.dumps(envelope, separators=(",", ":"))
    with pytest.raises(_limits.NestingError):
        dumps({"args": [_nested(limit + 1)], "kwargs": {}}, nesting_below=2)


def test_values_written_by_wf_itself_are_not_limited() -> None:
    # A step's result is not an entry point: only recursion bounds it, as before.
    assert loads(dumps(_nested(300))) == _nested(300)
    with pytest.raises(SerializationError, match="nested too deeply"):
        dumps(_nested(100_000))


# -- the registry -----------------------------------------------------------------


def test_registered_type_round_trip() -> None:
    value = {"price": Money(1250, "eur"), "list": [Money(1, "usd")], (Money(2, "x"),): 1}
    result = round_trip(value)
    assert result == value
    assert type(result["price"]) is Money
    assert '"__wf__":"ext","n":"test.money"' in dumps(Money(1, "eur"))


def test_registry_matches_exact_types_only() -> None:
    with pytest.raises(SerializationError, match="SpecialMoney"):
        dumps(SpecialMoney(1, "eur"))


def test_registry_rejects_duplicates_and_native_types() -> None:
    with pytest.raises(ValueError, match=r"'test\.money' is already registered for .*Money"):
        register_type(Point, name="test.money", encode=repr, decode=eval)
    with pytest.raises(ValueError, match=r"already registered under the name 'test\.money'"):
        register_type(Money, name="test.money2", encode=repr, decode=eval)
    with pytest.raises(ValueError, match="cannot register tuple"):
        register_type(tuple, name="test.tuple", encode=list, decode=tuple)
    with pytest.raises(TypeError, match="expects a class"):
        register_type("Money", name="x", encode=repr, decode=eval)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="non-empty str name"):
        register_type(Conn, name="", encode=repr, decode=eval)


def test_registering_again_with_the_same_name_is_allowed() -> None:
    register_type(
        Money,
        name="test.money",
        encode=lambda m: [m.cents, m.currency],
        decode=lambda v: Money(*v),
    )
    try:
        check_money = round_trip(Money(5, "gbp"))
        assert check_money == Money(5, "gbp")
    finally:
        register_type(
            Money,
            name="test.money",
            encode=lambda m: {"cents": m.cents, "currency": m.currency},
            decode=lambda d: Money(d["cents"], d["currency"]),
        )


def test_registered_encoder_returning_unsupported_value() -> None:
    class Wrapper:
        pass

    Wrapper.__qualname__ = "Wrapper"
    register_type(Wrapper, name="test.wrapper", encode=lambda w: Conn(), decode=lambda v: v)
    with pytest.raises(SerializationError, match=r"at value\['w'\]<encoded by 'test.wrapper'>"):
        dumps({"w": Wrapper()})


def test_unknown_registered_name_on_load() -> None:
    with pytest.raises(SerializationError, match="no type is registered under that name"):
        loads('{"__wf__":"ext","n":"test.nobody","v":1}')


# -- decoding errors --------------------------------------------------------------


def test_invalid_json() -> None:
    with pytest.raises(SerializationError, match="not valid JSON"):
        loads("{nope")
    with pytest.raises(SerializationError, match="not valid JSON"):
        loads('{"a": 1} extra')


def test_unknown_tag() -> None:
    with pytest.raises(SerializationError, match="unknown tag"):
        loads('{"__wf__":"hologram","v":1}')


def test_malformed_tagged_value() -> None:
    with pytest.raises(SerializationError, match="cannot decode tagged value 'datetime'"):
        loads('{"__wf__":"datetime","v":"yesterday"}')


def test_missing_class_on_load() -> None:
    with pytest.raises(SerializationError, match=r"cannot rebuild enum nowhere\.mod:Gone"):
        loads('{"__wf__":"enum","t":"nowhere.mod:Gone","v":1}')


def test_loads_accepts_bytes_and_whitespace() -> None:
    assert loads(b' {"a": [1, 2]} \n') == {"a": [1, 2]}
    with pytest.raises(TypeError, match="expects str or bytes"):
        loads(5)  # type: ignore[arg-type]


# -- exceptions -------------------------------------------------------------------


def raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("bad value"),
        KeyError("missing"),
        OSError(2, "No such file", "/tmp/x"),
        FileNotFoundError(2, "gone"),
        ZeroDivisionError(),
        FatalError("card stolen"),
        WorkflowError("generic"),
        PaymentDeclined("declined", code=51),
    ],
    ids=repr,
)
def test_exceptions_rebuild(exc: BaseException) -> None:
    data = encode_exception(raised(exc))
    json.dumps(data)  # JSON-compatible as returned
    for payload in (data, loads(dumps(data))):
        rebuilt = decode_exception(payload)
        assert type(rebuilt) is type(exc)
        assert rebuilt.args == exc.args
        assert str(rebuilt) == str(exc)
        assert "Traceback (most recent call last)" in rebuilt.__wf_traceback__  # type: ignore[attr-defined]
    module, name = type(exc).__module__, type(exc).__qualname__
    # wf's own errors are written by their stable name, never their private module.
    assert data["type"] == (f"wf:{name}" if module == "wf._errors" else f"{module}:{name}")
    assert data["message"] == str(exc)


def test_exception_attributes_are_restored() -> None:
    rebuilt = decode_exception(encode_exception(PaymentDeclined("declined", code=51)))
    assert isinstance(rebuilt, PaymentDeclined)
    assert rebuilt.code == 51


def test_retryable_error_keeps_retry_after() -> None:
    for after in ("5s", 2.5, dt.timedelta(minutes=1), None):
        rebuilt = decode_exception(encode_exception(RetryableError("slow", retry_after=after)))
        assert type(rebuilt) is RetryableError
        assert str(rebuilt) == "slow"
        assert same(rebuilt.retry_after, after)


def test_custom_init_that_cannot_be_rebuilt_gives_none() -> None:
    data = encode_exception(raised(NeedsTwoArgs("o1", "out of stock")))
    assert data["message"] == "order o1: out of stock"
    assert decode_exception(data) is None


def test_unserializable_args_give_none_but_keep_text() -> None:
    data = encode_exception(ValueError("bad", Conn()))
    assert data["exact"] is False
    assert data["args"][0] == "bad"
    assert decode_exception(data) is None
    json.dumps(data)


def test_local_exception_class_gives_none() -> None:
    class Local(Exception):
        pass

    assert decode_exception(encode_exception(Local("x"))) is None


@pytest.mark.parametrize(
    "data",
    [
        {"type": "builtins:dict", "args": [], "exact": True},
        {"type": "nowhere:Nothing", "args": [], "exact": True},
        {"type": "builtins:ValueError"},
        {"type": "not a path"},
        {},
        {"type": "builtins:ValueError", "args": [], "exact": True, "reduce": {"fn": "os:system"}},
    ],
)
def test_forged_or_broken_data_gives_none(data: dict[str, Any]) -> None:
    assert decode_exception(data) is None


def test_cause_is_flattened_into_text() -> None:
    try:
        try:
            raise KeyError("inner")
        except KeyError as inner:
            raise ValueError("outer") from inner
    except ValueError as exc:
        data = encode_exception(exc)
    assert data["cause"] == "caused by KeyError: 'inner'"
    assert "KeyError: 'inner'" in data["traceback"]
    assert "ValueError: outer" in data["traceback"]


def test_exception_group() -> None:
    group = ExceptionGroup("many", [ValueError("a"), KeyError("b")])
    rebuilt = decode_exception(encode_exception(group))
    assert type(rebuilt) is ExceptionGroup
    assert [type(e) for e in rebuilt.exceptions] == [ValueError, KeyError]


def test_remote_traceback_is_carried_along() -> None:
    first = decode_exception(encode_exception(raised(ValueError("x"))))
    assert first is not None
    again = encode_exception(first)  # never raised locally: keep the remote text
    assert again["traceback"] == first.__wf_traceback__  # type: ignore[attr-defined]


def test_exceptions_as_values() -> None:
    value = {"errors": [ValueError("a"), PaymentDeclined("b", code=3)], "when": dt.date.today()}
    result = round_trip(value)
    assert type(result["errors"][0]) is ValueError
    assert result["errors"][1].code == 3
    stand_in = round_trip(NeedsTwoArgs("o", "r"))
    assert type(stand_in) is Exception
    assert str(stand_in) == f"{NeedsTwoArgs.__module__}:NeedsTwoArgs: order o: r"


def test_encode_exception_survives_broken_str() -> None:
    class Broken(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    data = encode_exception(Broken())
    assert data["message"] == "<unprintable Broken>"


# -- property ----------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.decimals(allow_nan=False),
    st.uuids(),
    st.dates(),
    st.datetimes(timezones=st.sampled_from([None, UTC, IST])),
    st.times(),
    st.timedeltas(),
    st.sampled_from([Color.RED, Priority.LOW, Mode.FAST, Perm.W]),
    st.builds(Point, st.integers(), st.integers()),
)
hashables = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.text(max_size=5),
        st.uuids(),
        st.dates(),
        st.builds(Point, st.integers(), st.integers()),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(tuple),
        st.frozensets(inner, max_size=3),
    ),
    max_leaves=6,
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=6) | st.just("__wf__"), inner, max_size=4),
        st.dictionaries(hashables, inner, max_size=3),
        st.sets(hashables, max_size=4),
        st.frozensets(hashables, max_size=3),
        st.builds(Line, st.text(max_size=4), st.integers(), st.lists(st.text()).map(tuple)),
        st.builds(Pair, inner, inner),
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_property_round_trip(value: Any) -> None:
    text = dumps(value)
    assert dumps(loads(text)) == text
    assert same(loads(text), value)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(), lambda inner: (
    st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
)))  # fmt: skip
def test_property_plain_values_are_plain_json(value: Any) -> None:
    text = dumps(value)
    assert text == json.dumps(value, separators=(",", ":"))
    assert loads(text) == value


def test_supported_types_constant_mentions_everything() -> None:
    for name in ("datetime", "Decimal", "UUID", "Enum", "dataclasses", "pydantic", "exceptions"):
        assert name in _serde.SUPPORTED_TYPES
