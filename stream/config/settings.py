"""Configuration: ``KPI_*`` environment variables (the per-queue YAML file: stream.config.queue_config).

This is the only module that reads the environment. A bad value stops start-up with
a :class:`ConfigError` that names the variable or the file and key; :func:`read_settings` lists
every problem at once, for ``python -m stream check``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    FilePath,
    SecretStr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from stream.config.queue_config import ConfigError, QueueConfig, did_you_mean, explain, load_queue_config
from stream.kpi.alerting import AlertPolicy
from stream.kpi.staffing import StaffingWindows
from stream.kpi.windows import Window, parse_duration, parse_time_of_day, parse_windows


class _SettingError(ValueError):
    """A problem of one setting found while checking several together."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.setting = name


#: KPI_BROKER's value that starts the embedded broker.
EMBEDDED = "embedded"
_SASL_SETTINGS = ("sasl_mechanism", "sasl_username", "sasl_password", "sasl_password_file")
_TLS_FILES = ("ssl_cafile", "ssl_certfile", "ssl_keyfile")
#: Settings that are gone, and what replaced them.
_REPLACED = {"KPI_LATENESS_SECONDS": "replaced by KPI_DEDUPE_SECONDS (delivery delay no longer refuses an event)"}


class Settings(BaseSettings):
    """Process settings, from ``KPI_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="KPI_", frozen=True, extra="ignore")

    broker: str | None = Field(
        default=None, description="kafka://host:9092[,host:9092]; 'embedded' starts the embedded broker"
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = Field(default=None, min_length=1)
    sasl_password: SecretStr | None = None
    sasl_password_file: FilePath | None = None
    ssl_cafile: FilePath | None = None
    ssl_certfile: FilePath | None = None
    ssl_keyfile: FilePath | None = None
    ssl_check_hostname: bool = True
    replication_factor: int = Field(default=1, ge=1, le=32, description="of every topic the project creates")
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field(
        default="none", description="codec of the record batches the project's own producers write"
    )
    app_id: str = Field(default="contact-centre-kpi", min_length=1)
    web_host: str = "0.0.0.0"
    web_port: int = Field(default=6066, ge=1, le=65535)
    http_username: str | None = Field(
        default=None, min_length=1, description="basic auth of every HTTP endpoint but /healthz"
    )
    http_password: SecretStr | None = None
    http_password_file: FilePath | None = None
    snapshot_seconds: float = Field(
        default=1.0, ge=0, le=60, description="/metrics and /api/kpis are rebuilt at most this often"
    )
    web_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/\s]+/?$",
        description="where the other workers reach this one (default http://<host name>:<KPI_WEB_PORT>)",
    )
    peer_timeout_seconds: float = Field(
        default=1.0, gt=0, le=30, description="how long /api/kpis waits for another worker's queues"
    )
    timezone: str = "UTC"
    config: Path | None = None
    windows: str = "15m,1h,today"
    day_start: str = Field(default="00:00", description="local time at which 'today' starts")
    clock: Literal["wall", "event"] = Field(
        default="wall", description="'event': now is the latest event time (replay)"
    )
    data_dir: Path = Path("data")
    store: Literal["memory", "rocksdb"] = Field(default="memory", description="where tables live between restarts")
    partitions: int = Field(default=8, ge=1, le=1024, description="partitions of internal topics and tables")
    dedupe_seconds: float = Field(
        default=86400.0,
        gt=0,
        description="a duplicate changes nothing while its original was processed less than this ago",
    )
    contact_ttl_seconds: float = Field(default=4 * 3600.0, gt=0)
    ticket_ttl_seconds: float = Field(
        default=30 * 86400.0, gt=0, description="forget a ticket this long after its last event"
    )
    orphan_ticket_ttl_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="forget ticket events whose ticket.created has not come, this long after the last",
    )
    agent_ttl_seconds: float = Field(
        default=12 * 3600.0, gt=0, description="forget an agent offline, or with no state change, this long"
    )
    idle_queue_seconds: float = Field(
        default=86400.0,
        gt=0,
        description="forget a queue not in KPI_CONFIG, windows too, once no event has reached it this long",
    )
    fcr_lookback: str = Field(default="7d", description="an earlier contact within this makes a contact a repeat")
    batch_size: int = Field(default=2000, ge=1)
    batch_seconds: float = Field(default=0.0, ge=0)
    session_timeout_seconds: float = Field(default=30.0, gt=0)
    fetch_wait_ms: int = Field(default=100, ge=0, le=30_000, description="longest a fetch waits for new events")
    commit_interval_seconds: float = Field(
        default=10.0, gt=0, le=300, description="how often input offsets are committed (each writes every held state)"
    )
    log_level: str = Field(default="info", pattern=r"^(?i:debug|info|warning|error|critical)$")
    broker_outage_exit_seconds: float = Field(
        default=60.0, gt=0, description="exit non-zero after the broker has been unreachable this long"
    )
    max_queues: int = Field(default=1000, ge=1, description="queue/channel keys a worker keeps, beyond KPI_CONFIG's")
    alert_window: str = Field(default="15m", description="window whose service level raises alerts")
    alert_hysteresis: float = Field(default=0.1, ge=0, lt=1)
    alert_min_contacts: int = Field(default=10, ge=1)
    staffing_arrival_window: str = Field(
        default="15m", description="rolling window whose arrival rate the staffing KPIs model"
    )
    staffing_handle_window: str = Field(
        default="1h", description="window whose handle time and patience the staffing KPIs model"
    )

    topic_calls: str = "contact-centre.calls"
    topic_chats: str = "contact-centre.chats"
    topic_tickets: str = "contact-centre.tickets"
    topic_surveys: str = "contact-centre.surveys"
    topic_agents: str = "contact-centre.agents"
    topic_deadletter: str = "contact-centre.deadletter"
    topic_alerts: str = "contact-centre.alerts"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @field_validator("windows")
    @classmethod
    def _valid_windows(cls, value: str) -> str:
        parse_windows(value)
        return value

    @field_validator("day_start")
    @classmethod
    def _valid_day_start(cls, value: str) -> str:
        parse_time_of_day(value)
        return value

    @field_validator("fcr_lookback")
    @classmethod
    def _valid_duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("alert_window", "staffing_arrival_window", "staffing_handle_window")
    @classmethod
    def _configured_window(cls, value: str, info: ValidationInfo) -> str:
        windows = info.data.get("windows")
        if windows is None:
            return value
        by_name = {w.name: w for w in parse_windows(windows)}
        if value not in by_name:
            raise ValueError(f"{value!r} is not one of KPI_WINDOWS ({windows})")
        if info.field_name == "staffing_arrival_window" and by_name[value].is_calendar_day:
            raise ValueError(f"{value!r} is not a rolling window: an arrival rate needs a window of fixed length")
        return value

    @model_validator(mode="after")
    def _consistent_security(self) -> Settings:
        sasl = self.security_protocol.startswith("SASL_")
        given = {name for name in _SASL_SETTINGS if getattr(self, name) is not None}
        if sasl:
            for name in ("sasl_mechanism", "sasl_username"):
                if name not in given:
                    raise _SettingError(name, f"required with KPI_SECURITY_PROTOCOL={self.security_protocol}")
            if ("sasl_password" in given) == ("sasl_password_file" in given):
                raise _SettingError(
                    "sasl_password",
                    "give it, or KPI_SASL_PASSWORD_FILE, but not both, with "
                    f"KPI_SECURITY_PROTOCOL={self.security_protocol}",
                )
        elif given:
            raise _SettingError(
                min(given), f"needs KPI_SECURITY_PROTOCOL=SASL_PLAINTEXT or SASL_SSL, not {self.security_protocol}"
            )
        tls_files = {name for name in _TLS_FILES if getattr(self, name) is not None}
        if tls_files and not self.security_protocol.endswith("SSL"):
            raise _SettingError(
                min(tls_files), f"needs KPI_SECURITY_PROTOCOL=SSL or SASL_SSL, not {self.security_protocol}"
            )
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            raise _SettingError("ssl_keyfile", "needs KPI_SSL_CERTFILE, the certificate it belongs to")
        passwords = (self.http_password is not None) + (self.http_password_file is not None)
        if self.http_username is not None and passwords != 1:
            raise _SettingError(
                "http_password", "give it, or KPI_HTTP_PASSWORD_FILE, but not both, with KPI_HTTP_USERNAME"
            )
        if self.http_username is None and passwords:
            raise _SettingError("http_username", "required with KPI_HTTP_PASSWORD or KPI_HTTP_PASSWORD_FILE")
        return self

    @cached_property
    def sasl_secret(self) -> str | None:
        """The SASL password, from KPI_SASL_PASSWORD or the file KPI_SASL_PASSWORD_FILE names."""
        return _secret(self.sasl_password, self.sasl_password_file)

    @cached_property
    def http_secret(self) -> str | None:
        """The HTTP basic-auth password, from KPI_HTTP_PASSWORD or the file KPI_HTTP_PASSWORD_FILE names."""
        return _secret(self.http_password, self.http_password_file)

    @property
    def embedded_broker(self) -> bool:
        return self.broker == EMBEDDED

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def window_list(self) -> tuple[Window, ...]:
        return parse_windows(self.windows, parse_time_of_day(self.day_start))

    @cached_property
    def fcr_lookback_seconds(self) -> float:
        return float(parse_duration(self.fcr_lookback))

    @cached_property
    def staffing_windows(self) -> StaffingWindows:
        by_name = {window.name: window for window in self.window_list}
        return StaffingWindows(by_name[self.staffing_arrival_window], by_name[self.staffing_handle_window])

    @cached_property
    def alert_policy(self) -> AlertPolicy:
        return AlertPolicy(self.alert_window, self.alert_hysteresis, self.alert_min_contacts)

    @cached_property
    def queue_config(self) -> QueueConfig:
        return load_queue_config(self.config)


def _secret(given: SecretStr | None, file: Path | None) -> str | None:
    """A password given in a variable, or read from a file (a mounted secret; its trailing newline
    is not part of it)."""
    if given is not None:
        return given.get_secret_value()
    return None if file is None else file.read_text().rstrip("\r\n")


def load_settings(environ: Mapping[str, str] = os.environ) -> Settings:
    """Read the environment and the queue file, or raise :class:`ConfigError` naming the first
    culprit (and how many more problems there are: ``read_settings`` lists them)."""
    settings, problems = read_settings(environ)
    if settings is None or problems:
        raise ConfigError.first_of(problems)
    settings.queue_config  # noqa: B018 - read the file now so a bad one stops start-up
    return settings


def read_settings(environ: Mapping[str, str] = os.environ) -> tuple[Settings | None, list[str]]:
    """The settings (``None`` when a value is invalid) and every problem of the environment, each a line
    naming its variable. The queue file is :func:`~stream.config.queue_config.read_queue_config`'s."""
    problems = _unknown_variables(environ)
    try:
        settings = Settings()
    except ValidationError as exc:
        return None, problems + [_describe(error) for error in exc.errors()]
    for name, path in (("sasl", settings.sasl_password_file), ("http", settings.http_password_file)):
        try:
            getattr(settings, f"{name}_secret")  # and the password files
        except OSError as exc:
            problems.append(f"environment: KPI_{name.upper()}_PASSWORD_FILE: {path}: {exc.strerror}")
    return settings, problems


def queue_file() -> Path | None:
    """KPI_CONFIG as :class:`Settings` reads it, for a check of the queue file when another setting is invalid."""
    value = EnvSettingsSource(Settings)().get("config")
    return TypeAdapter(Path | None).validate_python(value)


def _describe(error: ErrorDetails) -> str:
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, _SettingError):
        return f"environment: {variable_of(cause.setting)}: {cause}"
    variable = variable_of(str(error["loc"][0])) if error["loc"] else "KPI_*"
    return f"environment: {variable}: {explain(error)}"


def variable_of(setting: str) -> str:
    return "KPI_" + setting.upper()


def _unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """Every ``KPI_*`` variable that names no setting: a typo must not pass silently."""
    known = [variable_of(name) for name in Settings.model_fields]
    problems = []
    for variable in sorted(name for name in environ if name.startswith("KPI_") and name not in known):
        if variable in _REPLACED:
            problems.append(f"environment: {variable} is {_REPLACED[variable]}")
        else:
            problems.append(f"environment: {variable} is not a setting{did_you_mean(variable, known)}")
    return problems
