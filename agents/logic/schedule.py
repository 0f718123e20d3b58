"""A site's declared calendar: working hours per weekday and queue, carrier pickups, holidays.

Sites that know their rhythm may declare it in the policy file; the detector then never judges a
queue's outflow in hours it is declared closed, whatever it has learned. Shape (TOML)::

    [warehouses.BJ-01.calendar]
    utc_offset = "+08:00"             # the site's local time, for the weekdays and hours below
    holidays = ["2026-12-25"]         # local dates closed for every queue
    [warehouses.BJ-01.calendar.dispatch]
    mon = ["07:00-15:00", "15:00-23:00"]   # shifts; a weekday left out is a closed day
    sat = ["08:00-16:00"]
    pickups = ["10:00", "15:00", "20:00"]  # carrier pickups (the hours that see dispatch scans)

A bad entry (unknown weekday or key, a time out of range, overlapping shifts, a bad date) raises
`PolicyError` naming its dotted key.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from ordermon.agents.logic.errors import PolicyError
from ordermon.agents.logic.windows import HOUR_MS, MINUTE_MS
from ordermon.streams.flows import QUEUE_NAMES

DAY_MS: Final = 24 * HOUR_MS
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EPOCH_WEEKDAY: Final = 3  # 1970-01-01 was a Thursday
_TIME = re.compile(r"\A(\d{1,2}):(\d{2})\Z")
_OFFSET = re.compile(r"\A([+-])(\d{2}):(\d{2})\Z")
_QUEUE_KEYS: Final = (*WEEKDAYS, "pickups")


@dataclass(frozen=True, slots=True)
class Calendar:
    """Declared working hours: per queue a 168-entry mask of local hours of the week (Monday
    00:00 first), and local holiday dates (days since the epoch)."""

    utc_offset_ms: int = 0
    hours: Mapping[str, tuple[bool, ...]] = field(default_factory=dict)
    holidays: frozenset[int] = frozenset()

    def declares(self, queue: str) -> bool:
        return queue in self.hours

    def holiday_between(self, start_ms: int, end_ms: int) -> bool:
        """Whether a declared holiday (a local date) overlaps the instants [start_ms, end_ms)."""
        if not self.holidays or end_ms <= start_ms:
            return False
        first = (start_ms + self.utc_offset_ms) // DAY_MS
        last = (end_ms - 1 + self.utc_offset_ms) // DAY_MS
        return any(day in self.holidays for day in range(first, last + 1))

    def working(self, queue: str, ms: int) -> bool | None:
        """Whether the queue is declared to work in the hour holding instant `ms`; None when
        its hours are not declared (learned instead)."""
        mask = self.hours.get(queue)
        local = ms + self.utc_offset_ms
        day = local // DAY_MS
        if day in self.holidays:
            return False
        if mask is None:
            return None
        weekday = (day + _EPOCH_WEEKDAY) % 7
        return mask[weekday * 24 + (local % DAY_MS) // HOUR_MS]


def parse_calendar(raw: Any, key: str) -> Calendar:
    """Build a `Calendar` from a policy mapping found at dotted `key`."""
    if not isinstance(raw, Mapping):
        raise PolicyError(key, raw, "must be a table / JSON object")
    offset = _offset(f"{key}.utc_offset", raw.get("utc_offset", "+00:00"))
    holidays = _holidays(f"{key}.holidays", raw.get("holidays", []))
    hours: dict[str, tuple[bool, ...]] = {}
    for name, value in raw.items():
        if name in ("utc_offset", "holidays"):
            continue
        if name not in QUEUE_NAMES:
            known = ", ".join(("utc_offset", "holidays", *QUEUE_NAMES))
            raise PolicyError(f"{key}.{name}", value, f"unknown key {name!r}; known keys: {known}")
        hours[name] = _queue_mask(value, f"{key}.{name}")
    return Calendar(utc_offset_ms=offset, hours=hours, holidays=holidays)


def _offset(key: str, value: Any) -> int:
    match = _OFFSET.match(value) if isinstance(value, str) else None
    if match is None or int(match.group(2)) > 14 or int(match.group(3)) > 59:
        raise PolicyError(key, value, "must be an offset like '+08:00' or '-05:00'")
    sign = -1 if match.group(1) == "-" else 1
    return sign * (int(match.group(2)) * HOUR_MS + int(match.group(3)) * MINUTE_MS)


def _holidays(key: str, value: Any) -> frozenset[int]:
    if not isinstance(value, list):
        raise PolicyError(key, value, "must be a list of dates like '2026-12-25'")
    days = set()
    for i, text in enumerate(value):
        try:
            day = date.fromisoformat(text) if isinstance(text, str) else None
        except ValueError:
            day = None
        if day is None or len(text) != 10:
            raise PolicyError(f"{key}[{i}]", text, "must be a date like '2026-12-25'")
        days.add((day - date(1970, 1, 1)).days)
    return frozenset(days)


def _minutes(key: str, text: Any, *, end: bool = False) -> int:
    """'HH:MM' as minutes of the day; 24:00 only as the end of a shift."""
    match = _TIME.match(text) if isinstance(text, str) else None
    if match is not None:
        hour, minute = int(match.group(1)), int(match.group(2))
        total = hour * 60 + minute
        if minute < 60 and (total < 24 * 60 or (end and total == 24 * 60)):
            return total
    limit = "24:00" if end else "23:59"
    raise PolicyError(key, text, f"must be a time of day 'HH:MM' between 00:00 and {limit}")


def _queue_mask(raw: Any, key: str) -> tuple[bool, ...]:
    if not isinstance(raw, Mapping):
        raise PolicyError(key, raw, "must be a table of weekdays (mon..sun) and pickups")
    mask = [False] * (7 * 24)
    for name, value in raw.items():
        if name not in _QUEUE_KEYS:
            known = ", ".join(_QUEUE_KEYS)
            raise PolicyError(f"{key}.{name}", value, f"unknown key {name!r}; known keys: {known}")
        if not isinstance(value, list):
            raise PolicyError(f"{key}.{name}", value, "must be a list")
    for d, weekday in enumerate(WEEKDAYS):
        for start, stop in _shifts(raw.get(weekday, []), f"{key}.{weekday}"):
            for hour in range(start // 60, (stop + 59) // 60):
                mask[d * 24 + hour] = True
    for i, text in enumerate(raw.get("pickups", [])):
        minute = _minutes(f"{key}.pickups[{i}]", text)
        for d, weekday in enumerate(WEEKDAYS):
            if weekday in raw:  # pickups happen on the days the site works
                mask[d * 24 + minute // 60] = True
    return tuple(mask)


def _shifts(raw: list[Any], key: str) -> list[tuple[int, int]]:
    spans = []
    for i, text in enumerate(raw):
        item = f"{key}[{i}]"
        parts = text.split("-") if isinstance(text, str) else []
        if len(parts) != 2:
            raise PolicyError(item, text, "must be a shift like '07:00-15:00'")
        start, stop = _minutes(item, parts[0].strip()), _minutes(item, parts[1].strip(), end=True)
        if stop <= start:
            raise PolicyError(item, text, "must end after it starts (split a night shift at 24:00)")
        spans.append((start, stop, text))
    spans.sort()
    for (_, stop, first), (start, _, second) in itertools.pairwise(spans):
        if start < stop:
            raise PolicyError(key, raw, f"shifts {first!r} and {second!r} overlap")
    return [(a, b) for a, b, _ in spans]
