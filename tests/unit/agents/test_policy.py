"""Policy: documented defaults, mapping and file loading, per-warehouse overrides, errors."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from ordermon.agents.logic.policy import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    Policy,
    PolicyError,
    QueuePolicy,
)


def test_defaults_are_the_documented_ones() -> None:
    p = Policy()
    assert p.for_ms == 30 * MINUTE_MS
    assert p.clear_hold_ms == 15 * MINUTE_MS
    assert p.renotify_ms == HOUR_MS
    assert p.forecast_lookahead_ms == 14 * DAY_MS
    assert p.silent_after_ms == 30 * MINUTE_MS
    assert (p.cascade_network_share, p.cascade_min_warehouses) == (0.5, 3)
    dispatch = p.queues["dispatch"]
    assert (dispatch.fire_pressure, dispatch.clear_pressure, dispatch.sla_hours) == (1.1, 1.0, 24.0)
    assert set(p.queues) == {"dispatch", "delivery", "service", "refund"}
    assert Policy.from_mapping({}) == p


@pytest.mark.parametrize("cls", [Policy, QueuePolicy])
def test_every_field_documents_its_default(cls: type) -> None:
    # The field docstrings live in the class body source; each field must have one.
    import inspect

    source = inspect.getsource(cls)
    for f in fields(cls):
        after = source.split(f"\n    {f.name}:", 1)[1].split("\n", 2)[1]
        assert after.strip().startswith('"""'), f"{cls.__name__}.{f.name} has no docstring"


@pytest.mark.parametrize(
    ("mapping", "check"),
    [
        # durations in milliseconds or as text with a unit
        ({"for_ms": 120_000}, lambda p: p.for_ms == 120_000),
        ({"for_ms": "2m"}, lambda p: p.for_ms == 120_000),
        ({"renotify_ms": "1.5h"}, lambda p: p.renotify_ms == 90 * MINUTE_MS),
        ({"forecast_lookahead_ms": "10d"}, lambda p: p.forecast_lookahead_ms == 10 * DAY_MS),
        ({"clear_hold_ms": "90s"}, lambda p: p.clear_hold_ms == 90_000),
        # an int where a float is expected is fine; other queues keep their defaults
        (
            {"queues": {"service": {"fire_pressure": 2}}},
            lambda p: (
                p.queues["service"].fire_pressure == 2.0
                and p.queues["dispatch"] == Policy().queues["dispatch"]
            ),
        ),
        ({"dispatch_capacity_per_day": None}, lambda p: p.dispatch_capacity_per_day is None),
        ({"capacity_requires_backlog": False}, lambda p: p.capacity_requires_backlog is False),
    ],
)
def test_from_mapping_reads_values(mapping: dict[str, Any], check: Any) -> None:
    assert check(Policy.from_mapping(mapping))


@pytest.mark.parametrize(
    ("mapping", "key", "value"),
    [
        ({"for_msx": 1}, "for_msx", 1),  # a typo is an error, not a silent default
        ({"for_ms": "soon"}, "for_ms", "soon"),
        ({"for_ms": -1}, "for_ms", -1),
        ({"for_ms": True}, "for_ms", True),
        ({"renotify_ms": 0}, "renotify_ms", 0),
        ({"queues": {"warehouse": {}}}, "queues.warehouse", {}),
        ({"queues": {"dispatch": {"fire": 1.2}}}, "queues.dispatch.fire", 1.2),
        ({"queues": {"dispatch": {"fire_pressure": 0.9}}}, "queues.dispatch.fire_pressure", 0.9),
        ({"queues": {"dispatch": {"min_backlog": 10}}}, "queues.dispatch.drained_backlog", 50),
        ({"queues": {"refund": {"sla_hours": "1d"}}}, "queues.refund.sla_hours", "1d"),
        ({"queues": {"refund": {"sla_hours": float("nan")}}}, "queues.refund.sla_hours", None),
        ({"cascade_network_share": 1.5}, "cascade_network_share", 1.5),
        ({"cascade_min_queues": 1}, "cascade_min_queues", 1),
        ({"forecast_fit_days": 40}, "forecast_history_days", 28),
        ({"forecast_min_days": 5}, "forecast_min_days", 5),  # a trend needs 9 days at least
        ({"silent_min_events": -1}, "silent_min_events", -1),
        ({"capacity_requires_backlog": "yes"}, "capacity_requires_backlog", "yes"),
        ({"warehouses": {"BJ-01": {"for_ms": "x"}}}, "warehouses.BJ-01.for_ms", "x"),
        ({"warehouses": {"BJ-01": {"typo": 1}}}, "warehouses.BJ-01.typo", 1),
        ({"warehouses": {"BJ-01": {"warehouses": {}}}}, "warehouses.BJ-01.warehouses", {}),
        (
            {"warehouses": {"BJ-01": {"queues": {"dispatch": {"clear_pressure": 1.5}}}}},
            "warehouses.BJ-01.queues.dispatch.fire_pressure",
            1.1,
        ),
    ],
)
def test_bad_values_name_key_and_value(mapping: dict[str, Any], key: str, value: Any) -> None:
    with pytest.raises(PolicyError) as info:
        Policy.from_mapping(mapping)
    assert isinstance(info.value, ValueError)
    assert info.value.key == key
    if value is not None:
        assert info.value.value == value
        assert repr(value) in str(info.value)
    assert key in str(info.value)


def test_per_warehouse_override_merges_field_by_field() -> None:
    policy = Policy.from_mapping(
        {
            "for_ms": "10m",
            "queues": {"dispatch": {"sla_hours": 12, "min_backlog": 500}},
            "warehouses": {
                "BJ-01": {
                    "dispatch_capacity_per_day": 14_000,
                    "queues": {"dispatch": {"sla_hours": 6}},
                }
            },
        }
    )
    bj = policy.for_warehouse("BJ-01")
    assert bj.dispatch_capacity_per_day == 14_000
    assert bj.queues["dispatch"].sla_hours == 6  # overridden
    assert bj.queues["dispatch"].min_backlog == 500  # from the base mapping
    assert bj.for_ms == 10 * MINUTE_MS  # from the base mapping
    assert bj.for_warehouse("BJ-01") is bj  # a resolved policy resolves to itself
    other = policy.for_warehouse("SH-02")
    assert other is policy
    assert other.dispatch_capacity_per_day is None


def test_from_file_json_and_toml(tmp_path: Path) -> None:
    as_json = tmp_path / "policy.json"
    as_json.write_text(json.dumps({"for_ms": "5m", "warehouses": {"BJ-01": {"for_ms": 1}}}))
    as_toml = tmp_path / "policy.toml"
    as_toml.write_text(
        'for_ms = "5m"\n[queues.dispatch]\nfire_pressure = 1.25\n[warehouses.BJ-01]\nfor_ms = 1\n'
    )
    from_json = Policy.from_file(as_json)
    from_toml = Policy.from_file(as_toml)
    assert from_json.for_ms == from_toml.for_ms == 5 * MINUTE_MS
    assert from_toml.queues["dispatch"].fire_pressure == 1.25
    assert from_json.for_warehouse("BJ-01").for_ms == from_toml.for_warehouse("BJ-01").for_ms == 1


def test_from_file_that_is_not_toml_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "policy.toml"
    bad.write_text("for_ms = = 3\n")
    with pytest.raises(PolicyError, match=r"policy\.toml"):
        Policy.from_file(bad)


# ---- declared calendars ------------------------------------------------------------------------

SITE = "warehouses.BJ-01.calendar"


def with_calendar(calendar: Any) -> dict[str, Any]:
    return {"warehouses": {"BJ-01": {"calendar": calendar}}}


@pytest.mark.parametrize(
    ("calendar", "key", "reason"),
    [
        ({"dispatch": {"mnd": ["07:00-15:00"]}}, f"{SITE}.dispatch.mnd", "unknown key"),
        ({"dispatch": {"mon": ["07:00-15:00", "14:00-23:00"]}}, f"{SITE}.dispatch.mon", "overlap"),
        ({"dispatch": {"mon": ["07:00-25:00"]}}, f"{SITE}.dispatch.mon[0]", "between 00:00"),
        ({"dispatch": {"mon": ["07:61-15:00"]}}, f"{SITE}.dispatch.mon[0]", "between 00:00"),
        ({"dispatch": {"mon": ["22:00-06:00"]}}, f"{SITE}.dispatch.mon[0]", "split a night"),
        ({"dispatch": {"mon": "07:00-15:00"}}, f"{SITE}.dispatch.mon", "must be a list"),
        ({"dispatch": {"pickups": ["24:00"]}}, f"{SITE}.dispatch.pickups[0]", "23:59"),
        ({"dispach": {"mon": []}}, f"{SITE}.dispach", "unknown key"),
        ({"holidays": ["2026-13-01"]}, f"{SITE}.holidays[0]", "a date like"),
        ({"utc_offset": "+8"}, f"{SITE}.utc_offset", "an offset like"),
        ("weekdays", SITE, "a table"),
    ],
)
def test_a_bad_calendar_names_its_key(calendar: Any, key: str, reason: str) -> None:
    with pytest.raises(PolicyError) as info:
        Policy.from_mapping(with_calendar(calendar))
    assert info.value.key == key
    assert reason in str(info.value)
    assert "\n" not in str(info.value)  # one line at start-up


def test_a_declared_calendar_marks_working_hours_in_local_time() -> None:
    policy = Policy.from_mapping(
        with_calendar(
            {
                "utc_offset": "+08:00",
                "holidays": ["2026-03-04"],
                "dispatch": {"mon": ["07:00-15:00", "15:00-23:00"], "pickups": ["10:00"]},
                "service": {"sat": ["09:00-21:00"]},
            }
        )
    )
    calendar = policy.for_warehouse("BJ-01").calendar
    assert calendar is not None and policy.calendar is None
    monday = 1_772_409_600_000  # 2026-03-02T00:00:00Z, 08:00 local
    assert calendar.working("dispatch", monday) is True
    assert calendar.working("dispatch", monday - 2 * HOUR_MS) is False  # 06:00 local
    assert calendar.working("dispatch", monday + DAY_MS) is False  # Tuesday: closed
    assert calendar.working("service", monday) is False
    assert calendar.working("refund", monday) is None  # not declared: learned
    assert calendar.working("refund", monday + 2 * DAY_MS) is False  # a holiday closes all
