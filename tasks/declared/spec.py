"""The source spec: one YAML file that declares a user's own churn data.

``kind: snapshot`` is a flat table, one row per customer with a churn flag; ``kind: events`` is an
event log plus a subscriptions file. Column names are matched case-insensitively. Every problem is
a ``SpecError`` with a one-line message naming the field or column.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

NAME = re.compile(r"^[a-z][a-z0-9_]{0,23}$")
MODEL_PREFIX = "churn-"


def model_name_of(source: str) -> str:
    """The registered model of a declared source: ``churn-<name>``."""
    return f"{MODEL_PREFIX}{source}"


def source_of(model_name: str) -> str | None:
    """The declared source a model name would belong to (``churn-<name>`` → ``<name>``), or
    None when the name cannot be one."""
    name = model_name.removeprefix(MODEL_PREFIX)
    return name if model_name.startswith(MODEL_PREFIX) and NAME.match(name) else None


class SpecError(ValueError):
    """The spec, or the data it points at, cannot be used; the message says what and where."""


class Subscriptions(BaseModel):
    """``kind: events``: who is a customer when (one row per subscription)."""

    model_config = ConfigDict(extra="forbid")

    file: str
    id: str | None = None  # default: the spec's top-level id
    start: str
    end: str


class SourceSpec(BaseModel):
    """A declared source; field names are the YAML keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Literal["snapshot", "events"]
    file: str
    id: str
    # snapshot
    label: str | None = None
    positive: list[str] = Field(default_factory=list)
    negative: list[str] | None = None
    snapshot_date: date | None = None
    categorical: list[str] = Field(default_factory=list)
    numeric: list[str] = Field(default_factory=list)
    ignore: list[str] = Field(default_factory=list)
    # events
    event_time: str | None = None
    event_type: str | None = None
    value: str | None = None
    subscriptions: Subscriptions | None = None
    horizon_days: int | None = Field(default=None, gt=0)
    # cutoffs every 7d, 2w, 1mo, ...; default: monthly for 14+ months of history, else weekly
    cutoff_every: str | None = None
    # feature windows in days (each one of tasks.features.entity.WINDOW_DAYS); default 7, 30, 90
    windows: list[int] | None = None
    # identical event rows: two real events (keep, the default) or one delivered twice (collapse);
    # a snapshot always collapses them (one row per id)
    duplicates: Literal["collapse", "keep"] | None = None
    # where relative paths are resolved (the spec file's folder); not a YAML key
    base_dir: Path = Field(default=Path("."), exclude=True)
    # the resolved spec file it was read from (None: built from a mapping); not a YAML key
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("positive", "negative", mode="before")
    @classmethod
    def _as_strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [str(v) for v in value]
        return value

    @field_validator("cutoff_every")
    @classmethod
    def _cadence(cls, value: str | None) -> str | None:
        if value is not None:
            from tasks.labels import parse_cadence

            parse_cadence(value)  # ValueError: the field's one-line message
        return value

    @field_validator("windows")
    @classmethod
    def _windows(cls, value: list[int] | None) -> list[int] | None:
        if value is None:
            return None
        from tasks.features.entity import WINDOW_DAYS

        wrong = [w for w in value if w not in WINDOW_DAYS]
        if wrong or not value:
            raise ValueError(f"windows {wrong or value} must each be one of {list(WINDOW_DAYS)}")
        return sorted(set(value))

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError(
                "must be lower-case letters, digits and _ (max 24, starting with a letter);"
                f" got {value!r}"
            )
        from tasks.definitions import builtin_definitions

        if model_name_of(value) in builtin_definitions():
            raise ValueError(
                f"{value!r} would train {model_name_of(value)}, a model of the project's own"
                " definitions; choose another name"
            )
        return value

    @model_validator(mode="after")
    def _kind_fields(self) -> SourceSpec:
        if self.kind == "snapshot":
            missing = [k for k in ("label",) if getattr(self, k) is None]
            if not self.positive:
                missing.append("positive")
            extra = [
                k
                for k in (
                    "event_time",
                    "event_type",
                    "value",
                    "subscriptions",
                    "cutoff_every",
                    "windows",
                )
                if getattr(self, k) is not None
            ]
            if self.duplicates == "keep":
                extra.append("duplicates: keep")
            if extra:
                raise ValueError(f"kind snapshot does not take {extra} (those are for kind events)")
        else:
            missing = [
                k for k in ("event_time", "event_type", "subscriptions") if getattr(self, k) is None
            ]
            extra = [k for k in ("label", "snapshot_date") if getattr(self, k) is not None]
            if extra:
                raise ValueError(
                    f"kind events does not take {extra}; labels come from subscriptions"
                )
        if missing:
            raise ValueError(f"kind {self.kind} needs {missing}")
        overlap = sorted({c.lower() for c in self.categorical} & {c.lower() for c in self.numeric})
        if overlap:
            raise ValueError(f"columns {overlap} are listed as both categorical and numeric")
        return self

    @property
    def keeps_duplicates(self) -> bool:
        """Whether identical event rows are loaded as distinct events (events' default)."""
        return self.kind == "events" and self.duplicates != "collapse"

    @property
    def model_name(self) -> str:
        """The registered model: ``churn-<name>``."""
        return model_name_of(self.name)

    def resolve(self, path: str) -> str:
        """A file pattern relative to the spec's folder (absolute ones unchanged)."""
        return path if Path(path).is_absolute() else str(self.base_dir / path)


def load_spec(path: str | Path) -> SourceSpec:
    """Read and validate a spec file; raises SpecError naming the problem."""
    spec_path = Path(path)
    if not spec_path.is_file():
        raise SpecError(f"spec file {str(spec_path)!r} does not exist")
    try:
        document = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(f"spec {spec_path}: not valid YAML ({exc})".replace("\n", " ")) from exc
    if not isinstance(document, dict):
        raise SpecError(
            f"spec {spec_path}: expected a mapping of fields, got {type(document).__name__}"
        )
    resolved = spec_path.resolve()
    return parse_spec(document, base_dir=resolved.parent, where=str(spec_path), path=resolved)


def parse_spec(
    document: dict[str, Any], *, base_dir: Path, where: str = "spec", path: Path | None = None
) -> SourceSpec:
    """Validate a spec mapping; raises SpecError with the first problem, field by name."""
    for key in ("base_dir", "path"):  # set from the file's location, never by the YAML
        if key in document:
            raise SpecError(
                f"{where}: field {key!r} is not a spec field (see docs/declared-sources.md)"
            )
    try:
        return SourceSpec.model_validate({**document, "base_dir": base_dir, "path": path})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "spec"
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "is not a spec field (see docs/declared-sources.md)"
        raise SpecError(f"{where}: field {field!r} {message}") from exc
