"""stream.tools.admin: changelog topics are created compacted, and an existing one that is not is reported."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from kafka import errors as kafka_errors

from stream.config.settings import Settings
from stream.pipeline.tables import TABLE_NAMES, changelog_topic_name
from stream.pipeline.topics import required_topics, topic_configs
from stream.tools.admin import warn_of_cleanup_policies


def test_every_changelog_and_only_changelogs_are_created_compacted() -> None:
    settings = Settings(app_id="kpi-test")
    configs = topic_configs(settings)
    assert set(configs) == {changelog_topic_name("kpi-test", table) for table in TABLE_NAMES}
    assert set(configs) <= set(required_topics(settings))
    assert all(config["cleanup.policy"] == "compact" for config in configs.values())


class DescribingAdmin:
    """describe_configs answering as kafka-python's KafkaAdminClient does (resource type in lower case)."""

    def __init__(self, answer: dict[str, Any] | Exception) -> None:
        self.answer = answer

    def describe_configs(self, resources: list[Any], config_filter: str) -> dict[str, Any]:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.parametrize(("policy", "warned"), [("delete", True), ("compact", False), ("compact,delete", True)])
def test_an_existing_changelog_that_is_not_compacted_is_reported(
    policy: str, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    admin = DescribingAdmin({"topic": {"app-queues-changelog": {"cleanup.policy": {"value": policy}}}})
    with caplog.at_level(logging.WARNING):
        warn_of_cleanup_policies(admin, {"app-queues-changelog": {"cleanup.policy": "compact"}})  # type: ignore[arg-type]
    assert ("cleanup.policy=compact" in caplog.text and "app-queues-changelog" in caplog.text) is warned


def test_a_broker_that_describes_no_configs_is_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    admin = DescribingAdmin(kafka_errors.KafkaConnectionError("socket disconnected"))
    with caplog.at_level(logging.WARNING):
        warn_of_cleanup_policies(admin, {"app-queues-changelog": {"cleanup.policy": "compact"}})  # type: ignore[arg-type]
    assert caplog.text == ""
