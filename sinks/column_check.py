"""Which rows of a columnar batch ClickHouse can never store, found before anything is sent.

clickhouse-driver serializes a block on the client: one value out of its column's range (a
``DateTime`` before 1970 or after 2106, 300 in a ``UInt8``, a string with a lone surrogate)
fails the whole insert, every time it is retried. Checking the batch against the table's
column types first lets the sink send such records to the dead-letter topic and store the
rest, and lets it do so for all the tables of a record before it stores any of them (a
feedback's mentions are not stored without the feedback).

Pure. Each column is checked as a whole first (min/max, one join), which costs a few
milliseconds per batch; only a column that fails is checked value by value. Types this module
does not know are not checked (the insert itself still is).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from schemas.records import Columns

__all__ = ["invalid_rows"]

Check = Callable[[Any], str | None]
"""A value → why ClickHouse cannot store it, or None."""

_INT_RANGES = {
    **{f"UInt{bits}": (0, 2**bits - 1) for bits in (8, 16, 32, 64)},
    **{f"Int{bits}": (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) for bits in (8, 16, 32, 64)},
}
# DateTime is unsigned 32-bit seconds; Date is unsigned 16-bit days since 1970-01-01.
_DATETIME_RANGE = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC))
_DATE_RANGE = (date(1970, 1, 1), date(2149, 6, 6))


def _in_range(type_name: str, low: Any, high: Any, kind: type | tuple[type, ...], value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, kind):
        return f"{value!r} is not a {type_name}"
    if not low <= value <= high:
        return f"{value!r} is out of the range of {type_name} ({low} .. {high})"
    return None


def _string(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"{value!r} is not a String"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"not valid UTF-8 at character {exc.start}: {exc.reason}"
    return None


def _datetime(value: Any) -> str | None:
    if not isinstance(value, datetime):
        return f"{value!r} is not a DateTime"
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    low, high = _DATETIME_RANGE
    if not low <= aware <= high:
        return f"{value.isoformat()} is out of the range of DateTime ({low:%Y-%m-%d} .. {high:%Y-%m-%d})"
    return None


def _date(value: Any) -> str | None:
    if isinstance(value, datetime):
        value = value.date()
    return _in_range("Date", *_DATE_RANGE, date, value)


def _check_for(type_spec: str) -> Check | None:
    """The check of one ClickHouse type, or None for a type this module does not know."""
    spec = type_spec.strip()
    for wrapper in ("LowCardinality(", "Nullable("):
        if spec.startswith(wrapper) and spec.endswith(")"):
            inner = _check_for(spec[len(wrapper) : -1])
            if inner is None:
                return None
            if wrapper == "LowCardinality(":
                return inner
            return lambda value: None if value is None else inner(value)
    if spec.startswith("Array(") and spec.endswith(")"):
        element = _check_for(spec[len("Array(") : -1])
        if element is None:
            return None

        def array(value: Any) -> str | None:
            if not isinstance(value, list | tuple):
                return f"{value!r} is not an Array"
            return next((problem for problem in map(element, value) if problem), None)

        return array
    if spec in _INT_RANGES:
        low, high = _INT_RANGES[spec]
        return lambda value: _in_range(spec, low, high, int, value)
    if spec in ("Float32", "Float64"):
        return lambda value: _in_range(spec, float("-inf"), float("inf"), (int, float), value)
    if spec == "String":
        return _string
    if spec == "DateTime" or spec.startswith("DateTime("):
        return _datetime
    if spec == "Date":
        return _date
    return None


def _whole_column_ok(type_spec: str, values: Sequence[Any]) -> bool:
    """A fast verdict on a whole column for the common types; False means "look closer"."""
    try:
        if type_spec == "String":
            "".join(values).encode("utf-8")
            return True
        if type_spec in _INT_RANGES:
            low, high = _INT_RANGES[type_spec]
            return all(type(v) is int for v in values) and low <= min(values) and max(values) <= high
        if type_spec == "DateTime":
            low, high = _DATETIME_RANGE
            return all(type(v) is datetime and v.tzinfo is not None for v in values) and (
                low <= min(values) and max(values) <= high
            )
    except (TypeError, ValueError, UnicodeEncodeError):
        return False
    return False


def invalid_rows(column_types: Mapping[str, str], columns: Columns) -> dict[int, str]:
    """Row index → the first reason ClickHouse cannot store that row, for every row of
    ``columns`` that has one. ``column_types`` maps column names to ClickHouse types (as
    ``DESCRIBE TABLE`` prints them); columns missing there are not checked."""
    problems: dict[int, str] = {}
    for name, values in columns.items():
        type_spec = column_types.get(name)
        if type_spec is None or not values or _whole_column_ok(type_spec, values):
            continue
        check = _check_for(type_spec)
        if check is None:
            continue
        for index, value in enumerate(values):
            if index not in problems and (problem := check(value)):
                problems[index] = f"column {name} ({type_spec}): {problem}"
    return problems
