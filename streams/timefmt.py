"""RFC 3339 timestamps with an offset <-> epoch milliseconds. Pure, no clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

# ASCII digits only: `\d` would also take other scripts' digits ("٢٠٢٦"), which int() then reads.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))\Z"
)

# The same grammar as one regular expression for the published JSON Schemas, with the ranges of
# month, day, hour, minute, second and offset spelled out. It cannot say which days a month has,
# nor that the instant must fall within years 1-9999 in UTC; parse_rfc3339_ms checks those too.
TIMESTAMP_PATTERN: Final = (
    r"^(?:[0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})"
    r"-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The instants that format_rfc3339_ms can write: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z.
MIN_MS: Final = -62_135_596_800_000
MAX_MS: Final = 253_402_300_799_999


# Fast path of parse_rfc3339_ms for what publishers send: ``YYYY-MM-DDTHH:MM:SSZ`` and
# ``YYYY-MM-DDTHH:MM:SS.fZ`` with 1-9 fraction digits. The epoch ms of ``YYYY-MM-DDTHH:MM:`` comes
# from a small cache that only the full parser fills, so just seconds and fraction are read here.
# The look-up tables double as the digit checks: their keys hold ASCII digits only.
MINUTE_CACHE_MAX: Final = 4096
minute_cache: dict[str, int] = {}
_SECOND_MS: Final = {f"{s:02d}": s * 1000 for s in range(60)}  # "00".."59": no leap second
_FRACTION_MS: Final = {  # ".d", ".dd", ".ddd" -> milliseconds
    f".{digits}": int(digits.ljust(3, "0"))
    for width in (1, 2, 3)
    for digits in (f"{v:0{width}d}" for v in range(10**width))
}


def parse_rfc3339_ms(text: str) -> int | None:
    """Epoch milliseconds of an RFC 3339 timestamp that carries an offset; None if it is not one.

    Fractions below a millisecond are truncated. A leap second (``:60``) is not accepted, nor an
    instant outside years 1-9999 in UTC (``0001-01-01T00:30:00+01:00``), which could not be
    written back.
    """
    # The fast path answers only where it agrees with _parse_full; everything else (an offset,
    # 'z', a leap second, non-ASCII digits, a minute the full parser refuses ...) goes there.
    # Why it agrees: _RFC3339 is fixed-width up to the seconds, so with ASCII digits for seconds
    # and fraction the text matches iff its minute + "00Z" does; datetime() takes every second
    # 0-59 once it took 0; the epoch offset is linear in seconds and milliseconds; and only
    # minutes whose every instant is within MIN_MS..MAX_MS are cached.
    n = len(text) if type(text) is str else 0  # not a subclass: it could redefine len or slicing
    if 20 <= n <= 30 and text[-1] == "Z":
        sec_ms = _SECOND_MS.get(text[17:19])
        if n == 20:  # text[19] is the final "Z"
            millis: int | None = 0
        else:  # the first 3 fraction digits count; any further ones must be digits too
            millis = _FRACTION_MS.get(text[19:23] if n >= 24 else text[19:-1])
            if n > 24 and not (text[23:-1].isascii() and text[23:-1].isdigit()):
                millis = None
        if sec_ms is not None and millis is not None:
            minute = text[:17]  # "YYYY-MM-DDTHH:MM:"
            base = minute_cache.get(minute)
            if base is None:
                base = _cache_minute(minute)
            if base is not None:
                return base + sec_ms + millis
    return _parse_full(text)


def _cache_minute(minute: str) -> int | None:
    """Epoch ms of ``minute + "00Z"`` if the full parser accepts the whole minute; cached."""
    base = _parse_full(minute + "00Z")
    if base is None or base + 59_999 > MAX_MS:
        return None
    if len(minute_cache) >= MINUTE_CACHE_MAX:
        minute_cache.clear()
    minute_cache[minute] = base
    return base


def _parse_full(text: str) -> int | None:
    """parse_rfc3339_ms without the fast path: the reference the fast path must agree with."""
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
    ms = (delta_s.days * 86_400 + delta_s.seconds) * 1000 + millis
    return ms if MIN_MS <= ms <= MAX_MS else None


def format_rfc3339_ms(ms: int) -> str:
    """``2026-11-22T08:15:00Z``, or with ``.123`` when the milliseconds are not zero.

    Raises OverflowError outside MIN_MS..MAX_MS (years 1-9999)."""
    dt = _EPOCH + timedelta(milliseconds=ms)
    # Not strftime: its %Y does not pad years below 1000 to four digits on every platform.
    base = (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    )
    frac = ms % 1000
    return f"{base}.{frac:03d}Z" if frac else f"{base}Z"
