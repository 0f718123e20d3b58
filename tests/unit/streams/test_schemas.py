"""The published JSON Schemas: committed files are current, and they agree with validate()."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordermon.streams import schemas
from ordermon.streams.codec import event_to_wire
from ordermon.streams.events import EVENT_TYPES
from ordermon.streams.flows import INPUT_TOPICS, STATUSES
from ordermon.streams.timefmt import TIMESTAMP_PATTERN
from ordermon.streams.validation import TOPIC_RULES, FieldRule, Rejection, rules_for, validate
from tests.unit.streams.wire_cases import CASES, EVENTS, any_event, mutated_wire

VALIDATORS = {
    topic: jsonschema.Draft202012Validator(json.loads(schemas.render(topic)))  # no format checker
    for topic in INPUT_TOPICS
}


# ---- the committed files ---------------------------------------------------------------------


@pytest.mark.parametrize("topic", INPUT_TOPICS)
def test_committed_schema_is_current(topic: str) -> None:
    path = schemas.schema_path(topic)
    assert path == Path(schemas.__file__).resolve().parent / "schemas" / f"{topic}.schema.json"
    assert path.read_text(encoding="utf-8") == schemas.render(topic), (
        f"{path} is stale: run `python -m ordermon.streams.schemas`"
    )


def test_no_stale_files_and_no_strays() -> None:
    assert schemas.stale_files() == []
    assert sorted(p.name for p in schemas.SCHEMA_DIR.glob("*.json")) == sorted(
        f"{t}.schema.json" for t in INPUT_TOPICS
    )


def test_a_rule_change_makes_the_files_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    changed = (*TOPIC_RULES["dispatches"], FieldRule("depot", "string", False, "Depot"))
    monkeypatch.setitem(TOPIC_RULES, "dispatches", changed)
    assert schemas.stale_files() == [schemas.schema_path("dispatches")]
    assert schemas.main(["--check"]) == 1


def test_render_format() -> None:
    text = schemas.render("orders")
    assert text.endswith("}\n")
    assert not text.endswith("\n\n")
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"
    assert '\n  "properties": {\n    "amount": {' in text


def test_main_writes_then_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert schemas.main(["--check", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    for topic in INPUT_TOPICS:
        assert f"{topic}.schema.json" in err

    assert schemas.main(["--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("wrote ") == len(INPUT_TOPICS)
    for topic in INPUT_TOPICS:
        assert (tmp_path / f"{topic}.schema.json").read_text() == schemas.render(topic)
    assert schemas.main(["--check", "--dir", str(tmp_path)]) == 0

    (tmp_path / "refunds.schema.json").write_text("{}\n")
    assert schemas.main(["--check", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "refunds.schema.json" in err
    assert "orders.schema.json" not in err

    assert schemas.main(["--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'refunds.schema.json'}"


# ---- what the schemas say --------------------------------------------------------------------


@pytest.mark.parametrize("topic", INPUT_TOPICS)
def test_schema_mirrors_the_rules(topic: str) -> None:
    schema = json.loads(schemas.render(topic))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is True
    assert schema["title"] and schema["description"]
    rules = rules_for(topic)
    assert schema["required"] == [r.name for r in rules if r.required]
    assert set(schema["properties"]) == {r.name for r in rules}
    for rule in rules:
        prop = schema["properties"][rule.name]
        assert prop["description"] == rule.description
        if not rule.required:
            assert "null" in prop["type"]
        if rule.minimum is not None:
            assert prop["minimum"] == rule.minimum
    assert schema["properties"]["status"]["enum"] == list(STATUSES[topic])
    assert schema["properties"]["occurred_at"]["pattern"] == TIMESTAMP_PATTERN


@pytest.mark.parametrize("topic", INPUT_TOPICS)
def test_examples_are_valid_both_ways(topic: str) -> None:
    for example in json.loads(schemas.render(topic))["examples"]:
        assert VALIDATORS[topic].is_valid(example)
        assert isinstance(validate(topic, example), EVENT_TYPES[topic])


# ---- agreement: the schema accepts exactly what validate() accepts ---------------------------

_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def beyond_json_schema(obj: dict[str, Any]) -> str | None:
    """Why the schema cannot decide `obj` like validate() does, or None when it can.

    - A pattern cannot tell which days a month has (2026-02-30, 2026-02-29 but not 2028-02-29),
      so a well-formed timestamp on a day that does not exist passes the schema only.
    - On the first day of the calendar (0001-01-01) with a positive offset, or on the last day
      (9999-12-31) with a negative one, the instant may lie outside years 1-9999 in UTC, which
      validate() refuses so that every accepted time can be written back; a pattern does no
      arithmetic.
    - The key/warehouse agreement is not part of the value, so it is not checked here at all:
      validate() is called without a key.
    - NaN and infinity cannot occur: the corpus is JSON read by orjson, which refuses them.
    """
    ts = obj.get("occurred_at")
    if not isinstance(ts, str) or re.search(TIMESTAMP_PATTERN, ts) is None:
        return None
    m = _DATE.match(ts)
    assert m is not None
    year, month, day = (int(g) for g in m.groups())
    try:
        datetime(year, month, day)
    except ValueError:
        return "not a calendar date"
    sign, offset = ts[-6], ts[-5:]
    if offset != "00:00" and (
        (sign == "+" and (year, month, day) == (1, 1, 1))
        or (sign == "-" and (year, month, day) == (9999, 12, 31))
    ):
        return "the offset moves the instant outside years 1-9999 in UTC"
    return None


def agree(topic: str, obj: dict[str, Any]) -> None:
    if beyond_json_schema(obj) is not None:
        return
    result = validate(topic, obj)
    accepted = not isinstance(result, Rejection)
    errors = [e.message for e in VALIDATORS[topic].iter_errors(obj)]
    assert accepted == (not errors), (topic, obj, result, errors)


def _table_objects() -> list[dict[str, Any]]:
    objects = []
    for case in CASES:
        try:
            obj = orjson.loads(case.raw)
        except orjson.JSONDecodeError:
            continue  # not JSON (1e400, NaN): no object to validate
        if isinstance(obj, dict):
            objects.append(obj)
    return objects


TABLE_OBJECTS = _table_objects()


@pytest.mark.parametrize("topic", INPUT_TOPICS)
def test_agreement_on_the_rule_table(topic: str) -> None:
    """Every row of the validation table, checked against every topic's schema (so rows of one
    topic are also invalid events of another)."""
    excluded = [o for o in TABLE_OBJECTS if beyond_json_schema(o) is not None]
    # the exclusion is narrow: exactly the table's impossible-date and edge-of-range rows
    assert {o["occurred_at"] for o in excluded} == {
        "2026-02-30T08:15:00Z",
        "2026-02-29T08:15:00Z",
        "2026-04-31T08:15:00Z",
        "0001-01-01T00:30:00+01:00",
        "9999-12-31T23:30:00-01:00",
    }
    for obj in TABLE_OBJECTS:
        agree(topic, obj)


@pytest.mark.parametrize("topic", INPUT_TOPICS)
def test_excluded_cases_are_rejected_by_validate_or_at_the_edge(topic: str) -> None:
    """What the schema lets through on those grounds, validate() still rejects."""
    for ts in ("2026-02-30T08:15:00Z", "2026-02-29T08:15:00Z", "0001-01-01T00:30:00+01:00"):
        obj = json.loads(schemas.render(topic))["examples"][0] | {"occurred_at": ts}
        assert VALIDATORS[topic].is_valid(obj)
        assert isinstance(validate(topic, obj), Rejection)


AGREE = settings(max_examples=300, deadline=None)


@pytest.mark.parametrize("topic", INPUT_TOPICS)
@AGREE
@given(event=any_event)
def test_agreement_on_valid_events_of_any_topic(topic: str, event: Any) -> None:
    obj = orjson.loads(orjson.dumps(event_to_wire(event)))
    agree(topic, obj)
    if event.topic == topic:
        assert VALIDATORS[topic].is_valid(obj)


@pytest.mark.parametrize("topic", INPUT_TOPICS)
@AGREE
@given(obj=mutated_wire())
def test_agreement_on_mutated_events(topic: str, obj: dict[str, Any]) -> None:
    agree(topic, orjson.loads(orjson.dumps(obj)))


@pytest.mark.parametrize("topic", INPUT_TOPICS)
@AGREE
@given(data=st.data())
def test_agreement_on_mutated_events_of_the_topic(topic: str, data: st.DataObject) -> None:
    obj = data.draw(mutated_wire(topic))
    agree(topic, orjson.loads(orjson.dumps(obj)))


@pytest.mark.parametrize("topic", INPUT_TOPICS)
@AGREE
@given(
    data=st.data(),
    text=st.one_of(
        st.text(alphabet="0123456789-:.+TtZz ", max_size=40),
        st.from_regex(TIMESTAMP_PATTERN, fullmatch=True),
    ),
)
def test_agreement_on_timestamps(topic: str, data: st.DataObject, text: str) -> None:
    obj = event_to_wire(data.draw(EVENTS[topic])) | {"occurred_at": text}
    agree(topic, obj)


@pytest.mark.parametrize("topic", INPUT_TOPICS)
@AGREE
@given(data=st.data(), text=st.text(max_size=70))
def test_agreement_on_warehouses(topic: str, data: st.DataObject, text: str) -> None:
    obj = event_to_wire(data.draw(EVENTS[topic])) | {"warehouse": text}
    agree(topic, obj)
