"""Per-queue settings: the ``KPI_CONFIG`` YAML file of thresholds and targets (SPEC §7)."""

from __future__ import annotations

from collections.abc import Collection
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from stream.kpi.aggregators import WaitRules
from stream.kpi.targets import TARGET_DIRECTIONS, QueueTargets


class ConfigError(Exception):
    """A configuration problem, phrased for the person who has to fix it."""

    @classmethod
    def first_of(cls, problems: list[str]) -> ConfigError:
        """The first problem found, one line for a worker to stop with, saying how many more there are."""
        return cls(problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))


PositiveSeconds = Annotated[float, Field(gt=0)]
Ratio = Annotated[float, Field(ge=0, le=1)]


class QueueSettings(BaseModel):
    """Settings of one queue (SPEC §7), after merging the defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service_level_seconds: PositiveSeconds = 20.0
    service_level_target: Ratio = 0.8
    wait_alert_seconds: PositiveSeconds = 60.0
    short_abandon_seconds: Annotated[float, Field(ge=0)] = 5.0
    #: Chats an agent handles at once (the staffing KPIs of the chat channel count slots).
    chat_concurrency: Annotated[int, Field(ge=1, le=20)] = 1
    targets: dict[str, float] = Field(default_factory=dict)

    @field_validator("targets")
    @classmethod
    def _known_kpis(cls, targets: dict[str, float]) -> dict[str, float]:
        unknown = [_with_closest(kpi, TARGET_DIRECTIONS) for kpi in sorted(set(targets) - set(TARGET_DIRECTIONS))]
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
            self.service_level_seconds,
            self.service_level_target,
            self.wait_alert_seconds,
            self.all_targets,
            self.chat_concurrency,
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


#: The sections of the file.
SECTIONS = ("defaults", "queues", "groups")


def load_queue_config(path: Path | None) -> QueueConfig:
    """Read and validate the YAML file; queue entries are merged over ``defaults``.

    Raises :class:`ConfigError` with the first problem (and how many more there are)."""
    config, problems = read_queue_config(path)
    if config is None:
        raise ConfigError.first_of(problems)
    return config


def read_queue_config(path: Path | None) -> tuple[QueueConfig | None, list[str]]:
    """The file's settings, or ``None`` and every problem found in it, each a line naming the file and key."""
    if path is None:
        return QueueConfig(), []
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        return None, [f"{path}: cannot read KPI_CONFIG: {exc.strerror}"]
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        return None, [f"{path}: line {line}: not UTF-8 (byte {exc.object[exc.start]:#04x}); save the file as UTF-8"]
    except yaml.YAMLError as exc:
        return None, [f"{path}: {_yaml_problem(exc)}"]
    if not isinstance(raw, dict):
        return None, [f"{path}: expected a mapping with 'defaults' and 'queues'"]
    problems: list[str] = []
    for section in sorted(set(raw) - set(SECTIONS), key=str):
        hint = did_you_mean(str(section), SECTIONS) or "; expected 'defaults', 'queues' or 'groups'"
        problems.append(f"{path}: {section}: unknown section{hint}")
    defaults_raw = raw.get("defaults") or {}
    defaults = _validate(defaults_raw, path, "defaults", problems)
    queues = _queues(raw.get("queues") or {}, defaults_raw if defaults is not None else None, path, problems)
    groups = _groups(raw.get("groups") or {}, path, problems)
    if problems or defaults is None:
        return None, problems
    return QueueConfig(defaults=defaults, queues=queues, groups=groups), []


def _queues(raw: Any, defaults_raw: dict[str, Any] | None, path: Path, problems: list[str]) -> dict[str, QueueSettings]:
    """Each queue's settings merged over the defaults (``None``: the defaults are invalid, so only the
    queues' own keys can be checked)."""
    if not isinstance(raw, dict):
        problems.append(f"{path}: queues: expected a mapping of queue name to settings")
        return {}
    queues = {}
    for name, override in raw.items():
        where = f"queues.{name}"
        if not isinstance(override, dict):
            problems.append(f"{path}: {where}: expected a mapping of settings")
            continue
        # An empty 'targets:' inherits the defaults; anything else but a mapping is left to
        # validation, which names it.
        own = {key: value for key, value in override.items() if not (key == "targets" and value is None)}
        # The queue's own keys alone first, so a bad default is reported once, under 'defaults',
        # not again in every queue it is merged into.
        if _validate(own, path, where, problems) is None or defaults_raw is None:
            continue
        merged: dict[str, Any] = {**defaults_raw, **own}
        merged["targets"] = {**(defaults_raw.get("targets") or {}), **(own.get("targets") or {})}
        settings = _validate(merged, path, where, problems)
        if settings is not None:
            queues[str(name)] = settings
    return queues


def _groups(raw: Any, path: Path, problems: list[str]) -> dict[str, tuple[str, ...]]:
    """``groups``: each name with a list of queue names (a queue may be in several groups)."""
    if not isinstance(raw, dict):
        problems.append(f"{path}: groups: expected a mapping of group name to a list of queue names")
        return {}
    groups = {}
    for name, queues in raw.items():
        if not isinstance(queues, list) or not queues or not all(isinstance(q, str | int) for q in queues):
            problems.append(f"{path}: groups.{name}: expected a non-empty list of queue names, e.g. [sales, billing]")
            continue
        groups[str(name)] = tuple(dict.fromkeys(str(q) for q in queues))
    return groups


def _validate(data: Any, path: Path, where: str, problems: list[str]) -> QueueSettings | None:
    try:
        return QueueSettings.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            location = ".".join(str(part) for part in (where, *error["loc"]))
            problems.append(f"{path}: {location}: {explain(error, QueueSettings.model_fields)}")
        return None


def explain(error: ErrorDetails, known: Collection[str] = ()) -> str:
    """A pydantic error's message, with a suggestion where one is obvious: the ratio meant by a
    percentage, the known key closest to an unknown one."""
    if error["type"] == "extra_forbidden":
        return "unknown key" + (did_you_mean(str(error["loc"][-1]), known) or f"; expected one of {', '.join(known)}")
    ctx = error.get("ctx", {})
    if error["type"] in ("less_than_equal", "less_than") and 1 in (ctx.get("le"), ctx.get("lt")):
        # Above a ratio's bound of 1, a percentage (80 for 0.8) is the likely mistake.
        value = _number(error["input"])
        if value is not None and 1 < value <= 100:
            return f"{error['msg']}; did you mean {value / 100:g}?"
    return error["msg"]


def _number(value: Any) -> float | None:
    """A YAML number, or the text of an environment variable, as a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def did_you_mean(word: str, known: Collection[str]) -> str:
    """``"; did you mean X?"`` for the known word closest to ``word``, or ``""`` when none is close."""
    closest = _closest(word, known)
    return f"; did you mean {closest}?" if closest else ""


def _with_closest(word: str, known: Collection[str]) -> str:
    closest = _closest(word, known)
    return f"{word} (did you mean {closest}?)" if closest else word


def _closest(word: str, known: Collection[str]) -> str | None:
    return next(iter(get_close_matches(word, list(known), n=1, cutoff=0.6)), None)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line with the line and column of a YAML syntax error (PyYAML's own text spans several
    lines and names ``<unicode string>``, not the file)."""
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return "not valid YAML: " + " ".join(str(exc).split())
    mark = exc.problem_mark
    context = ""
    if exc.context and exc.context_mark is not None and exc.context_mark.line != mark.line:
        context = f" ({exc.context} from line {exc.context_mark.line + 1})"
    elif exc.context:
        context = f" ({exc.context})"
    return f"line {mark.line + 1}, column {mark.column + 1}: not valid YAML: {exc.problem}{context}"
