"""stream.config.settings: the per-queue YAML file and KPI_* environment (SPEC §7)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from stream.config.queue_config import QueueConfig, QueueSettings, load_queue_config, read_queue_config
from stream.config.settings import ConfigError, load_settings, queue_file, read_settings
from stream.kpi.aggregators import WaitRules
from stream.kpi.targets import TARGET_DIRECTIONS
from stream.kpi.windows import Window
from stream.pipeline.app import create_pipeline

SPEC_EXAMPLE = """\
defaults:                    # every queue, unless overridden
  service_level_seconds: 20
  service_level_target: 0.8
  wait_alert_seconds: 60
  short_abandon_seconds: 5
  targets:
    average_wait_seconds: 30
    abandon_ratio: 0.05
    fcr_ratio: 0.7
    csat_score: 4.2
queues:
  sales:
    service_level_seconds: 60
    targets:
      csat_score: 4.5        # merged over the defaults' targets
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No KPI_* variable of the machine running the tests leaks in."""
    for name in list(os.environ):
        if name.upper().startswith("KPI_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str, name: str = "queues.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- load_queue_config: merging


def test_no_file_gives_built_in_defaults() -> None:
    config = load_queue_config(None)
    assert config == QueueConfig()
    assert config.for_queue("anything") == QueueSettings(
        service_level_seconds=20.0,
        service_level_target=0.8,
        wait_alert_seconds=60.0,
        short_abandon_seconds=5.0,
        targets={},
    )


def test_spec_example_merges_queue_over_defaults(tmp_path: Path) -> None:
    config = load_queue_config(write(tmp_path, SPEC_EXAMPLE))
    sales = config.for_queue("sales")
    assert sales.service_level_seconds == 60.0  # overridden
    assert sales.service_level_target == 0.8  # inherited
    assert sales.wait_alert_seconds == 60.0
    assert sales.short_abandon_seconds == 5.0
    # targets are merged key by key: csat_score overridden, the other three inherited
    assert sales.targets == {"average_wait_seconds": 30, "abandon_ratio": 0.05, "fcr_ratio": 0.7, "csat_score": 4.5}
    # service_level_target is also the service_level_ratio target
    assert sales.all_targets == {
        "service_level_ratio": 0.8,
        "average_wait_seconds": 30,
        "abandon_ratio": 0.05,
        "fcr_ratio": 0.7,
        "csat_score": 4.5,
    }
    assert sales.wait_rules == WaitRules(service_level_seconds=60.0, short_abandon_seconds=5.0)


def test_unlisted_queue_uses_defaults(tmp_path: Path) -> None:
    config = load_queue_config(write(tmp_path, SPEC_EXAMPLE))
    support = config.for_queue("support")
    assert support == config.defaults
    assert support.service_level_seconds == 20.0
    assert support.targets == {"average_wait_seconds": 30, "abandon_ratio": 0.05, "fcr_ratio": 0.7, "csat_score": 4.2}


@pytest.mark.parametrize(
    ("text", "queue", "expected"),
    [
        # only queues: built-in defaults fill in the rest
        (
            "queues:\n  vip:\n    service_level_seconds: 10\n    short_abandon_seconds: 0\n",
            "vip",
            QueueSettings(service_level_seconds=10, short_abandon_seconds=0),
        ),
        # defaults from the file reach a queue that overrides something else
        (
            "defaults:\n  wait_alert_seconds: 90\nqueues:\n  vip:\n    service_level_target: 0.95\n",
            "vip",
            QueueSettings(wait_alert_seconds=90, service_level_target=0.95),
        ),
        # an empty override is the defaults
        (
            "defaults:\n  service_level_seconds: 30\nqueues:\n  vip: {}\n",
            "vip",
            QueueSettings(service_level_seconds=30),
        ),
        # a queue target without default targets
        ("queues:\n  vip:\n    targets:\n      nps_score: 40\n", "vip", QueueSettings(targets={"nps_score": 40})),
        # default targets, queue adds one: union
        (
            "defaults:\n  targets:\n    fcr_ratio: 0.7\nqueues:\n  vip:\n    targets:\n      ces_score: 5\n",
            "vip",
            QueueSettings(targets={"fcr_ratio": 0.7, "ces_score": 5}),
        ),
        # a null targets override keeps the defaults' targets
        (
            "defaults:\n  targets:\n    fcr_ratio: 0.7\nqueues:\n  vip:\n    targets:\n",
            "vip",
            QueueSettings(targets={"fcr_ratio": 0.7}),
        ),
        # a queue name YAML reads as a number is still found by its text
        ("queues:\n  123:\n    service_level_seconds: 15\n", "123", QueueSettings(service_level_seconds=15)),
        # an empty file is all defaults
        ("", "vip", QueueSettings()),
        ("defaults:\nqueues:\n", "vip", QueueSettings()),
    ],
)
def test_merging(tmp_path: Path, text: str, queue: str, expected: QueueSettings) -> None:
    assert load_queue_config(write(tmp_path, text)).for_queue(queue) == expected


def test_service_level_target_is_overridable_as_the_service_level_ratio_target(tmp_path: Path) -> None:
    text = "defaults:\n  service_level_target: 0.8\nqueues:\n  vip:\n    service_level_target: 0.9\n"
    config = load_queue_config(write(tmp_path, text))
    assert config.for_queue("vip").all_targets == {"service_level_ratio": 0.9}
    assert config.for_queue("other").all_targets == {"service_level_ratio": 0.8}


# --------------------------------------------------------------------------- load_queue_config: errors


@pytest.mark.parametrize(
    ("text", "where"),
    [
        # each message must name the field (with its section path)
        ("queues:\n  sales:\n    service_level_seconds: 0\n", "queues.sales.service_level_seconds"),
        ("queues:\n  sales:\n    service_level_seconds: -5\n", "queues.sales.service_level_seconds"),
        ("queues:\n  sales:\n    service_level_seconds: soon\n", "queues.sales.service_level_seconds"),
        ("queues:\n  sales:\n    service_level_target: 1.5\n", "queues.sales.service_level_target"),
        ("queues:\n  sales:\n    wait_alert_seconds: 0\n", "queues.sales.wait_alert_seconds"),
        ("queues:\n  sales:\n    short_abandon_seconds: -1\n", "queues.sales.short_abandon_seconds"),
        ("queues:\n  sales:\n    colour: red\n", "queues.sales.colour"),  # unknown setting
        ("queues:\n  sales:\n    targets:\n      csat_score: high\n", "queues.sales.targets.csat_score"),
        ("defaults:\n  service_level_seconds: 0\n", "defaults.service_level_seconds"),
        ("defaults:\n  service_level_target: -0.1\n", "defaults.service_level_target"),
        ("defaults:\n  short_abandon: 5\n", "defaults.short_abandon"),
        ("defaults:\n  targets:\n    fcr_ratio: [0.7]\n", "defaults.targets.fcr_ratio"),
        ("defaults:\n  targets: [fcr_ratio]\n", "defaults.targets"),
        ("defaults: 5\n", "defaults"),
        ("queues: [sales]\n", "queues"),
        ("queues:\n  sales: 60\n", "queues.sales"),
        ("queues:\n  sales:\n", "queues.sales"),
        ("bogus: 1\n", "bogus"),  # unknown top-level section
        ("groups: [sales]\n", "groups"),
        ("groups:\n  north: sales\n", "groups.north"),
        ("groups:\n  north: []\n", "groups.north"),
        ("groups:\n  north: [{sales: 1}]\n", "groups.north"),
    ],
)
def test_error_names_file_and_field(tmp_path: Path, text: str, where: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_queue_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {where}: "), message


def test_groups_name_queues_configured_or_not(tmp_path: Path) -> None:
    text = "queues:\n  sales:\n    service_level_seconds: 30\ngroups:\n  north: [sales, billing, sales]\n  7: [42]\n"
    config = load_queue_config(write(tmp_path, text))
    assert config.groups == {"north": ("sales", "billing"), "7": ("42",)}
    assert load_queue_config(write(tmp_path, "queues: {}\n")).groups == {}


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("queues:\n  sales:\n    targets:\n      csat: 4.5\n", "queues.sales.targets"),
        ("defaults:\n  targets:\n    average_talk_seconds: 60\n", "defaults.targets"),
        ("defaults:\n  targets:\n    contacts_offered: 100\n", "defaults.targets"),  # no target for a count
    ],
)
def test_unknown_kpi_in_targets(tmp_path: Path, text: str, where: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_queue_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {where}: "), message
    assert "unknown KPI" in message
    assert "csat_score" in message  # the list of valid names helps the person fixing it


def test_unknown_default_kpi_is_reported_for_defaults_first(tmp_path: Path) -> None:
    path = write(tmp_path, "defaults:\n  targets:\n    bogus: 1\nqueues:\n  sales: {}\n")
    with pytest.raises(ConfigError, match=r"defaults\.targets: .*unknown KPI bogus"):
        load_queue_config(path)


@pytest.mark.parametrize("targets", ["[csat_score]", "4.5", "high"])
def test_queue_targets_that_are_not_a_mapping_raise_config_error(tmp_path: Path, targets: str) -> None:
    """SPEC §7: a bad configuration stops start-up with a message naming the field and the file.

    'targets' under a queue must be a mapping; anything else must be a ConfigError naming
    queues.sales.targets (as the same mistake under 'defaults' is), not a bare TypeError.
    """
    path = write(tmp_path, f"queues:\n  sales:\n    targets: {targets}\n")
    with pytest.raises(ConfigError) as caught:
        load_queue_config(path)
    assert str(caught.value).startswith(f"{path}: queues.sales.targets")


def test_more_errors_are_counted(tmp_path: Path) -> None:
    path = write(tmp_path, "defaults:\n  service_level_target: 2\n  wait_alert_seconds: -1\n")
    with pytest.raises(ConfigError, match=r"defaults\.service_level_target: .*\(and 1 more\)$"):
        load_queue_config(path)


def test_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "- sales\n- support\n")
    with pytest.raises(ConfigError, match="expected a mapping") as caught:
        load_queue_config(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_invalid_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "defaults: [\n")
    with pytest.raises(ConfigError, match="not valid YAML") as caught:
        load_queue_config(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_queue_config(path)
    assert str(caught.value).startswith(f"{path}: cannot read KPI_CONFIG: ")


# --------------------------------------------------------------------------- Settings from the environment


def test_settings_defaults() -> None:
    settings = load_settings()
    assert settings.broker is None  # unset = embedded broker
    assert settings.app_id == "contact-centre-kpi"
    assert settings.web_port == 6066
    assert settings.timezone == "UTC"
    assert settings.windows == "15m,1h,today"
    assert settings.window_list == (Window("15m", 900, 60), Window("1h", 3600, 240), Window("today", None, 0))
    assert settings.dedupe_seconds == 86400.0  # SPEC §3: duplicates recognised for a day
    assert settings.topic_calls == "contact-centre.calls"
    assert settings.topic_chats == "contact-centre.chats"
    assert settings.topic_tickets == "contact-centre.tickets"
    assert settings.topic_surveys == "contact-centre.surveys"
    assert settings.topic_agents == "contact-centre.agents"
    assert settings.topic_deadletter == "contact-centre.deadletter"
    assert settings.topic_alerts == "contact-centre.alerts"
    assert settings.queue_config == QueueConfig()
    assert settings.commit_interval_seconds == 10.0


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KPI_BROKER", "kafka://kafka-1:9092")
    monkeypatch.setenv("KPI_WEB_PORT", "8080")
    monkeypatch.setenv("KPI_TIMEZONE", "Europe/Warsaw")
    monkeypatch.setenv("KPI_WINDOWS", "15m,1h,today,7d,30d")
    monkeypatch.setenv("KPI_DEDUPE_SECONDS", "3600")
    monkeypatch.setenv("KPI_LOG_LEVEL", "DEBUG")  # case-insensitive
    monkeypatch.setenv("KPI_CONFIG", str(write(tmp_path, SPEC_EXAMPLE)))
    settings = load_settings()
    assert settings.broker == "kafka://kafka-1:9092"
    assert settings.web_port == 8080
    assert str(settings.tz) == "Europe/Warsaw"
    assert [w.name for w in settings.window_list] == ["15m", "1h", "today", "7d", "30d"]
    assert settings.window_list[3] == Window("7d", 604800, 40320)
    assert settings.dedupe_seconds == 3600.0
    assert settings.queue_config.for_queue("sales").service_level_seconds == 60.0


def test_alert_window_may_be_any_configured_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPI_WINDOWS", "5m,1h")
    monkeypatch.setenv("KPI_ALERT_WINDOW", "5m")
    monkeypatch.setenv("KPI_STAFFING_ARRIVAL_WINDOW", "5m")
    assert load_settings().alert_policy.window == "5m"
    monkeypatch.delenv("KPI_ALERT_WINDOW")
    with pytest.raises(
        ConfigError, match=r"^environment: KPI_ALERT_WINDOW: .*'15m' is not one of KPI_WINDOWS \(5m,1h\)"
    ):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KPI_WEB_PORT", "0"),
        ("KPI_WEB_PORT", "65536"),
        ("KPI_WEB_PORT", "http"),
        ("KPI_TIMEZONE", "Mars/Olympus"),
        ("KPI_TIMEZONE", "../etc"),
        ("KPI_WINDOWS", "5s"),
        ("KPI_WINDOWS", "15m,15m"),
        ("KPI_WINDOWS", ""),
        ("KPI_WINDOWS", "15m,fortnight"),
        ("KPI_PARTITIONS", "0"),
        ("KPI_PARTITIONS", "many"),
        ("KPI_LOG_LEVEL", "verbose"),
        ("KPI_APP_ID", ""),
        ("KPI_DEDUPE_SECONDS", "-1"),
        ("KPI_DEDUPE_SECONDS", "0"),
        ("KPI_CONTACT_TTL_SECONDS", "0"),
        ("KPI_BATCH_SIZE", "0"),
        ("KPI_BATCH_SECONDS", "-0.1"),
        ("KPI_SESSION_TIMEOUT_SECONDS", "-3"),
        ("KPI_ALERT_WINDOW", "1h30m"),  # not one of KPI_WINDOWS
        ("KPI_ALERT_HYSTERESIS", "1"),
        ("KPI_ALERT_HYSTERESIS", "-0.1"),
        ("KPI_ALERT_MIN_CONTACTS", "0"),
        ("KPI_DAY_START", "25:00"),
        ("KPI_CLOCK", "sundial"),
        ("KPI_FCR_LOOKBACK", "a week"),
        ("KPI_COMMIT_INTERVAL_SECONDS", "0"),
    ],
)
def test_environment_error_names_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(f"environment: {variable}: "), str(caught.value)


def test_bad_config_file_stops_load_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """load_settings reads KPI_CONFIG at once, so a bad file fails start-up, naming file and field."""
    path = write(tmp_path, "queues:\n  sales:\n    service_level_seconds: 0\n")
    monkeypatch.setenv("KPI_CONFIG", str(path))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(f"{path}: queues.sales.service_level_seconds: ")


def test_missing_config_file_stops_load_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    monkeypatch.setenv("KPI_CONFIG", str(path))
    with pytest.raises(ConfigError, match="cannot read KPI_CONFIG") as caught:
        load_settings()
    assert str(caught.value).startswith(f"{path}: ")


def test_environment_without_the_prefix_is_not_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_PORT", "0")
    assert load_settings().web_port == 6066


@pytest.mark.parametrize(
    ("variable", "message"),
    [
        ("KPI_SASL_PASWORD", "KPI_SASL_PASWORD is not a setting; did you mean KPI_SASL_PASSWORD?"),
        ("KPI_BROKR", "KPI_BROKR is not a setting; did you mean KPI_BROKER?"),
        ("KPI_WEBPORT", "KPI_WEBPORT is not a setting; did you mean KPI_WEB_PORT?"),
        ("KPI_XYZZY", "KPI_XYZZY is not a setting"),
        ("KPI_LATENESS_SECONDS", "KPI_LATENESS_SECONDS is replaced by KPI_DEDUPE_SECONDS"),
    ],
)
def test_an_unknown_kpi_variable_stops_start_up_naming_the_closest(
    monkeypatch: pytest.MonkeyPatch, variable: str, message: str
) -> None:
    monkeypatch.setenv(variable, "x")
    with pytest.raises(ConfigError, match="^environment: " + re.escape(message)):
        load_settings()


def test_faust_own_variables_do_not_reach_the_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Faust reads BROKER_URL, WEB_PORT, APP_DATADIR ... and lets them override what it is given."""
    monkeypatch.setenv("KPI_BROKER", "kafka://kafka-1:9092")
    monkeypatch.setenv("KPI_DATA_DIR", str(tmp_path))
    for variable, value in (
        ("BROKER_URL", "kafka://elsewhere:9092"),
        ("WEB_PORT", "7777"),
        ("APP_DATADIR", "/elsewhere"),
        ("BROKER_COMMIT_INTERVAL", "99"),
    ):
        monkeypatch.setenv(variable, value)
    conf = create_pipeline(load_settings()).app.conf
    assert [str(url) for url in conf.broker] == ["kafka://kafka-1:9092"]
    assert (conf.web_port, str(conf.datadir), conf.broker_commit_interval) == (6066, str(tmp_path), 10.0)


def test_the_commit_interval_reaches_faust(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPI_COMMIT_INTERVAL_SECONDS", "4.5")
    monkeypatch.setenv("KPI_BROKER", "kafka://kafka-1:9092")
    pipeline = create_pipeline(load_settings())
    assert pipeline.app.conf.broker_commit_interval == 4.5


# --------------------------------------------------------------------------- every problem at once (check)

QUEUE_KEYS = (
    "service_level_seconds, service_level_target, wait_alert_seconds, short_abandon_seconds, chat_concurrency, targets"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "defaults:\n  service_level_target: 80\n",
            ["defaults.service_level_target: Input should be less than or equal to 1; did you mean 0.8?"],
        ),
        # a value above 100 is no percentage: no suggestion
        (
            "defaults:\n  service_level_target: 800\n",
            ["defaults.service_level_target: Input should be less than or equal to 1"],
        ),
        (
            "queues:\n  sales:\n    service_level_secs: 30\n",
            ["queues.sales.service_level_secs: unknown key; did you mean service_level_seconds?"],
        ),
        ("queues:\n  sales:\n    colour: red\n", [f"queues.sales.colour: unknown key; expected one of {QUEUE_KEYS}"]),
        ("queue:\n  sales: {}\n", ["queue: unknown section; did you mean queues?"]),
        (
            "defaults:\n  targets:\n    abandon_rate: 0.1\n",
            [
                "defaults.targets: Value error, unknown KPI abandon_rate (did you mean abandon_ratio?); "
                f"one of {', '.join(sorted(TARGET_DIRECTIONS))}"
            ],
        ),
        # every bad queue, each problem of each
        (
            "queues:\n  sales:\n    wait_alert_seconds: 0\n    short_abandon_seconds: -1\n"
            "  support:\n    service_level_target: 95\n",
            [
                "queues.sales.wait_alert_seconds: Input should be greater than 0",
                "queues.sales.short_abandon_seconds: Input should be greater than or equal to 0",
                "queues.support.service_level_target: Input should be less than or equal to 1; did you mean 0.95?",
            ],
        ),
        # a bad default once, not again in every queue it is merged into; the queues' own keys still checked
        (
            "defaults:\n  service_level_seconds: 0\nqueues:\n  sales: {}\n  support:\n    wait_alert_seconds: -5\n",
            [
                "defaults.service_level_seconds: Input should be greater than 0",
                "queues.support.wait_alert_seconds: Input should be greater than 0",
            ],
        ),
        (
            "defaults: 5\nqueues:\n  sales: 60\ngroups:\n  north: sales\n  south: []\n  east: [sales]\n",
            [
                "defaults: Input should be a valid dictionary or instance of QueueSettings",
                "queues.sales: expected a mapping of settings",
                "groups.north: expected a non-empty list of queue names, e.g. [sales, billing]",
                "groups.south: expected a non-empty list of queue names, e.g. [sales, billing]",
            ],
        ),
        (
            "queues:\n  sales:\n    service_level_seconds: 20\n   wait_alert_seconds: 30\n",
            [
                "line 4, column 4: not valid YAML: expected <block end>, but found '<block mapping start>' "
                "(while parsing a block mapping from line 2)"
            ],
        ),
    ],
)
def test_read_queue_config_lists_every_problem(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = write(tmp_path, text)
    assert read_queue_config(path) == (None, [f"{path}: {problem}" for problem in expected])


def test_a_file_that_is_not_utf8_is_one_problem_naming_its_line(tmp_path: Path) -> None:
    path = tmp_path / "queues.yaml"
    path.write_bytes("queues:\n  caf\u00e9:\n".encode("latin-1"))
    assert read_queue_config(path) == (None, [f"{path}: line 2: not UTF-8 (byte 0xe9); save the file as UTF-8"])


def test_a_good_file_has_no_problems(tmp_path: Path) -> None:
    config, problems = read_queue_config(write(tmp_path, SPEC_EXAMPLE))
    assert problems == []
    assert config == load_queue_config(write(tmp_path, SPEC_EXAMPLE))


def test_the_worker_stops_at_the_first_problem_counting_the_rest(tmp_path: Path) -> None:
    path = write(tmp_path, "queues:\n  sales:\n    service_level_target: 80\n  support:\n    colour: red\n")
    with pytest.raises(ConfigError) as caught:
        load_queue_config(path)
    assert str(caught.value) == (
        f"{path}: queues.sales.service_level_target: Input should be less than or equal to 1; did you mean 0.8? "
        "(and 1 more)"
    )


def test_read_settings_lists_every_problem_of_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in (
        ("KPI_BROKR", "kafka://kafka-1:9092"),
        ("KPI_WEBPORT", "8080"),
        ("KPI_WEB_PORT", "http"),
        ("KPI_ALERT_HYSTERESIS", "10"),
    ):
        monkeypatch.setenv(variable, value)
    settings, problems = read_settings()
    assert settings is None
    assert problems == [
        "environment: KPI_BROKR is not a setting; did you mean KPI_BROKER?",
        "environment: KPI_WEBPORT is not a setting; did you mean KPI_WEB_PORT?",
        "environment: KPI_WEB_PORT: Input should be a valid integer, unable to parse string as an integer",
        "environment: KPI_ALERT_HYSTERESIS: Input should be less than 1; did you mean 0.1?",
    ]
    with pytest.raises(ConfigError, match=r"^environment: KPI_BROKR is not a setting; .* \(and 3 more\)$"):
        load_settings()


def test_the_queue_file_is_found_when_another_setting_is_bad(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KPI_WEB_PORT", "http")
    monkeypatch.setenv("KPI_CONFIG", str(tmp_path / "queues.yaml"))
    assert read_settings()[0] is None
    assert queue_file() == tmp_path / "queues.yaml"
    monkeypatch.delenv("KPI_CONFIG")
    assert queue_file() is None


def test_staffing_reads_configured_windows_and_arrivals_a_rolling_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPI_WINDOWS", "5m,30m,today")
    monkeypatch.setenv("KPI_ALERT_WINDOW", "5m")
    monkeypatch.setenv("KPI_STAFFING_ARRIVAL_WINDOW", "5m")
    monkeypatch.setenv("KPI_STAFFING_HANDLE_WINDOW", "today")
    chosen = load_settings().staffing_windows
    assert (chosen.arrivals.name, chosen.handling.name) == ("5m", "today")
    monkeypatch.setenv("KPI_STAFFING_ARRIVAL_WINDOW", "today")
    with pytest.raises(ConfigError, match=r"^environment: KPI_STAFFING_ARRIVAL_WINDOW: .*'today' is not a rolling"):
        load_settings()
    monkeypatch.setenv("KPI_STAFFING_ARRIVAL_WINDOW", "5m")
    monkeypatch.delenv("KPI_STAFFING_HANDLE_WINDOW")
    with pytest.raises(
        ConfigError, match=r"^environment: KPI_STAFFING_HANDLE_WINDOW: .*'1h' is not one of KPI_WINDOWS"
    ):
        load_settings()
