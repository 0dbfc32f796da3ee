"""Per-queue settings: the ``KPI_CONFIG`` YAML file of thresholds and targets (SPEC §7)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from stream.kpi.aggregators import WaitRules
from stream.kpi.targets import TARGET_DIRECTIONS, QueueTargets


class ConfigError(Exception):
    """A configuration problem, phrased for the person who has to fix it."""


PositiveSeconds = Annotated[float, Field(gt=0)]
Ratio = Annotated[float, Field(ge=0, le=1)]


class QueueSettings(BaseModel):
    """Settings of one queue (SPEC §7), after merging the defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service_level_seconds: PositiveSeconds = 20.0
    service_level_target: Ratio = 0.8
    wait_alert_seconds: PositiveSeconds = 60.0
    short_abandon_seconds: Annotated[float, Field(ge=0)] = 5.0
    targets: dict[str, float] = Field(default_factory=dict)

    @field_validator("targets")
    @classmethod
    def _known_kpis(cls, targets: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(targets) - set(TARGET_DIRECTIONS))
        if unknown:
            raise ValueError(f"unknown KPI {', '.join(unknown)}; one of {', '.join(sorted(TARGET_DIRECTIONS))}")
        return targets

    @property
    def wait_rules(self) -> WaitRules:
        return WaitRules(self.service_level_seconds, self.short_abandon_seconds)

    @property
    def all_targets(self) -> dict[str, float]:
        """Configured targets; the service-level target is also the ``service_level_ratio`` target."""
        return {"service_level_ratio": self.service_level_target, **self.targets}

    @property
    def queue_targets(self) -> QueueTargets:
        return QueueTargets(
            self.service_level_seconds, self.service_level_target, self.wait_alert_seconds, self.all_targets
        )


class QueueConfig(BaseModel):
    """The whole ``KPI_CONFIG`` file: defaults plus per-queue overrides."""

    model_config = ConfigDict(frozen=True)

    defaults: QueueSettings = Field(default_factory=QueueSettings)
    queues: dict[str, QueueSettings] = Field(default_factory=dict)
    #: Named sets of queues shown together (a team's wallboard): group name -> queue names.
    groups: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    def for_queue(self, queue: str) -> QueueSettings:
        return self.queues.get(queue, self.defaults)

    def targets_of(self, queue: str) -> QueueTargets:
        return self.for_queue(queue).queue_targets


def load_queue_config(path: Path | None) -> QueueConfig:
    """Read and validate the YAML file; queue entries are merged over ``defaults``."""
    if path is None:
        return QueueConfig()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read KPI_CONFIG: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with 'defaults' and 'queues'")
    unknown = sorted(set(raw) - {"defaults", "queues", "groups"})
    if unknown:
        raise ConfigError(f"{path}: {unknown[0]}: unknown section; expected 'defaults', 'queues' or 'groups'")
    defaults_raw = raw.get("defaults") or {}
    queues_raw = raw.get("queues") or {}
    defaults = _validate(QueueSettings, defaults_raw, path, "defaults")
    if not isinstance(queues_raw, dict):
        raise ConfigError(f"{path}: queues: expected a mapping of queue name to settings")
    queues = {}
    for name, override in queues_raw.items():
        if not isinstance(override, dict):
            raise ConfigError(f"{path}: queues.{name}: expected a mapping of settings")
        merged: dict[str, Any] = {**defaults_raw, **override}
        # An empty 'targets:' inherits the defaults; anything else but a mapping is left
        # to validation, which names it.
        own_targets = override.get("targets")
        if own_targets is None or isinstance(own_targets, dict):
            merged["targets"] = {**(defaults_raw.get("targets") or {}), **(own_targets or {})}
        queues[str(name)] = _validate(QueueSettings, merged, path, f"queues.{name}")
    return QueueConfig(defaults=defaults, queues=queues, groups=_groups(raw.get("groups") or {}, path))


def _groups(raw: Any, path: Path) -> dict[str, tuple[str, ...]]:
    """``groups``: each name with a list of queue names (a queue may be in several groups)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: groups: expected a mapping of group name to a list of queue names")
    groups = {}
    for name, queues in raw.items():
        if not isinstance(queues, list) or not queues or not all(isinstance(q, str | int) for q in queues):
            raise ConfigError(f"{path}: groups.{name}: expected a non-empty list of queue names, e.g. [sales, billing]")
        groups[str(name)] = tuple(dict.fromkeys(str(q) for q in queues))
    return groups


def _validate(model: type[QueueSettings], data: Any, path: Path, where: str) -> QueueSettings:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_describe(exc, where)}") from None


def _describe(exc: ValidationError, prefix: str = "") -> str:
    first = exc.errors()[0]
    location = ".".join(str(part) for part in (prefix, *first["loc"]) if part != "")
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{location}: {first['msg']}{more}"
