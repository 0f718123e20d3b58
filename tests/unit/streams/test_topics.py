"""Topic names with the deployment prefix, and the co-partitioning rule."""

from __future__ import annotations

import pytest

from ordermon.streams.errors import ContractError, PartitionsMismatch
from ordermon.streams.flows import INPUT_TOPICS
from ordermon.streams.topics import ALERTS, DEADLETTER, TopicNames, require_copartitioned


def test_contract_names() -> None:
    assert INPUT_TOPICS == ("orders", "dispatches", "complaints", "refunds")
    assert (ALERTS, DEADLETTER) == ("ordermon.alerts", "ordermon.deadletter")


def test_no_prefix_by_default() -> None:
    names = TopicNames()
    assert names.prefix == ""
    assert names.inputs == INPUT_TOPICS
    assert names.alerts == "ordermon.alerts"
    assert names.deadletter == "ordermon.deadletter"
    assert names.full("orders") == "orders"
    assert names.base("orders") == "orders"


def test_prefix_goes_before_every_topic() -> None:
    names = TopicNames("staging.")
    assert names.inputs == (
        "staging.orders",
        "staging.dispatches",
        "staging.complaints",
        "staging.refunds",
    )
    assert names.alerts == "staging.ordermon.alerts"
    assert names.deadletter == "staging.ordermon.deadletter"


@pytest.mark.parametrize("prefix", ["", "staging.", "eu-1_", "orders"])
def test_base_undoes_full(prefix: str) -> None:
    names = TopicNames(prefix)
    for base in (*INPUT_TOPICS, ALERTS, DEADLETTER):
        assert names.base(names.full(base)) == base


def test_base_of_a_name_without_the_prefix_is_unchanged() -> None:
    names = TopicNames("staging.")
    assert names.base("orders") == "orders"
    assert names.base("prod.orders") == "prod.orders"


def test_names_are_values() -> None:
    assert TopicNames("a.") == TopicNames("a.")
    assert hash(TopicNames("a.")) == hash(TopicNames("a."))
    with pytest.raises(AttributeError):
        TopicNames("a.").prefix = "b."  # type: ignore[misc]


class TestRequireCopartitioned:
    def test_same_count_is_returned(self) -> None:
        counts = dict.fromkeys(TopicNames("p.").inputs, 6)
        assert require_copartitioned(counts) == 6

    def test_a_single_partition_everywhere_is_fine(self) -> None:
        assert require_copartitioned(dict.fromkeys(INPUT_TOPICS, 1)) == 1

    def test_mismatch_names_every_topic_and_its_count(self) -> None:
        counts: dict[str, int | None] = {
            "orders": 6,
            "dispatches": 6,
            "complaints": 3,
            "refunds": 12,
        }
        with pytest.raises(PartitionsMismatch) as info:
            require_copartitioned(counts)
        message = str(info.value)
        for topic, n in counts.items():
            assert f"{topic}={n}" in message
        assert info.value.counts == counts
        assert isinstance(info.value, ContractError)

    def test_missing_topic_is_named_as_missing(self) -> None:
        counts: dict[str, int | None] = {
            "orders": 4,
            "dispatches": None,
            "complaints": 4,
            "refunds": 4,
        }
        with pytest.raises(PartitionsMismatch) as info:
            require_copartitioned(counts)
        message = str(info.value)
        assert "dispatches=missing" in message
        assert "orders=4" in message
        assert "refunds=4" in message

    def test_all_missing_is_a_mismatch(self) -> None:
        with pytest.raises(PartitionsMismatch) as info:
            require_copartitioned(dict.fromkeys(INPUT_TOPICS))
        for topic in INPUT_TOPICS:
            assert f"{topic}=missing" in str(info.value)

    def test_no_topics_at_all_is_a_mismatch(self) -> None:
        with pytest.raises(PartitionsMismatch):
            require_copartitioned({})

    def test_prefixed_names_appear_as_given(self) -> None:
        counts: dict[str, int | None] = {"staging.orders": 2, "staging.refunds": 3}
        with pytest.raises(PartitionsMismatch, match=r"staging\.orders=2.*staging\.refunds=3"):
            require_copartitioned(counts)
