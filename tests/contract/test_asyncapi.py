"""asyncapi.json and the output schemas: current with the code, valid for the AsyncAPI project's
own parser, and in agreement with what the worker really writes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]
import pytest

from ordermon.streams import asyncapi
from ordermon.streams.flows import INPUT_TOPICS
from ordermon.streams.outputs import ALERT_KINDS, Alert, DeadLetter
from ordermon.streams.schemas import schema_for

HERE = Path(__file__).resolve().parent
VALIDATE = HERE / "validate_asyncapi.mjs"
PARSER = HERE / "node_modules" / "@asyncapi" / "parser"


def test_the_committed_files_are_current() -> None:
    assert asyncapi.stale_files() == [], "run `python -m ordermon.streams.asyncapi`"
    assert asyncapi.main(["--check"]) == 0


def parse(path: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None or not PARSER.is_dir():
        pytest.skip("Node.js or @asyncapi/parser missing: `make node-deps` installs them")
    return subprocess.run(
        [node, str(VALIDATE), str(path)], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_asyncapi_parser_accepts_the_document() -> None:
    done = parse(asyncapi.ASYNCAPI_PATH)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_asyncapi_parser_would_refuse_a_broken_one(tmp_path: Path) -> None:
    """The check can fail: a payload schema with a wrong type, an operation on no channel."""
    for breakage in ("type", "ref"):
        doc = asyncapi.asyncapi_document()
        if breakage == "type":
            alert = doc["components"]["messages"]["alert"]["payload"]["schema"]
            alert["properties"]["severity"]["type"] = 5
        else:
            doc["operations"]["send_orders"]["channel"] = {"$ref": "#/channels/nowhere"}
        path = tmp_path / f"{breakage}.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        done = parse(path)
        assert done.returncode == 1, breakage
        assert '"severity":0' in done.stdout, done.stdout


def test_every_topic_has_a_channel_and_an_operation() -> None:
    doc = asyncapi.asyncapi_document()
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == {*INPUT_TOPICS, "ordermon.alerts", "ordermon.deadletter"}
    actions = {
        op["channel"]["$ref"].rsplit("/", 1)[1]: op["action"] for op in doc["operations"].values()
    }
    assert {k for k, a in actions.items() if a == "send"} == set(INPUT_TOPICS)
    for topic in INPUT_TOPICS:
        payload = doc["components"]["messages"][topic]["payload"]["schema"]
        assert payload["properties"] == schema_for(topic)["properties"]


def test_what_the_worker_writes_matches_the_output_schemas() -> None:
    alert_schema = jsonschema.Draft202012Validator(asyncapi.alert_schema())
    letter_schema = jsonschema.Draft202012Validator(asyncapi.deadletter_schema())
    for kind in ALERT_KINDS:
        firing = Alert(
            f"{kind}-W-1", kind, "W", "warning", "firing", 1, 2, "s", {"p": 1.5, "n": None}
        )
        resolved = Alert(f"{kind}-W-1", kind, "*", "critical", "resolved", 1, 3, "s", {}, 3)
        for alert in (firing, resolved):
            alert_schema.validate(alert.to_wire())
    for payload in (b'{"a": 1}', b"\xff\xfe", None):
        letter_schema.validate(DeadLetter("orders", 0, 1, "bad", "not_json", 5, payload).to_wire())
    assert not alert_schema.is_valid({**firing.to_wire(), "severity": "page-everyone"})
    assert not letter_schema.is_valid({"source_topic": "orders"})
    for example in (asyncapi.ALERT_EXAMPLE, asyncapi.DEADLETTER_EXAMPLE):
        assert alert_schema.is_valid(example) or letter_schema.is_valid(example)
