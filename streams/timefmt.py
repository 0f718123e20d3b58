"""RFC 3339 timestamps with an offset <-> epoch milliseconds. Pure, no clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_rfc3339_ms(text: str) -> int | None:
    """Epoch milliseconds of an RFC 3339 timestamp that carries an offset; None if it is not one.

    Fractions below a millisecond are truncated. A leap second (``:60``) is not accepted.
    """
    m = _RFC3339.match(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, frac, zulu, sign, oh, om = m.groups()
    try:
        if zulu:
            tz = UTC
        else:
            if int(oh) > 23 or int(om) > 59:
                return None
            delta = timedelta(hours=int(oh), minutes=int(om))
            tz = timezone(-delta if sign == "-" else delta)
        dt = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=tz
        )
    except ValueError:
        return None
    millis = int((frac or "0")[:3].ljust(3, "0"))
    delta_s = dt - _EPOCH
    return (delta_s.days * 86_400 + delta_s.seconds) * 1000 + millis


def format_rfc3339_ms(ms: int) -> str:
    """``2026-11-22T08:15:00Z``, or with ``.123`` when the milliseconds are not zero."""
    dt = _EPOCH + timedelta(milliseconds=ms)
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    frac = ms % 1000
    return f"{base}.{frac:03d}Z" if frac else f"{base}Z"
