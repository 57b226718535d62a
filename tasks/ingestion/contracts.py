"""Declarative source contracts and their vectorized validation.

A contract lists each column's type, nullability, allowed values, pattern and range, plus
cross-column rules. ``check_frame`` evaluates it on a whole chunk with pandas/pyarrow column
operations and returns the typed values, which rows failed, and every reason for each failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypedDict

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tasks.ingestion.errors import SchemaMismatchError

Kind = Literal["string", "integer", "decimal", "date", "timestamp"]


class Reason(TypedDict):
    """Why a row was quarantined: which column, which check, and the offending raw value."""

    column: str | None
    check: str
    value: str | None


@dataclass(frozen=True)
class Field:
    """One column of a source: type, nullability, allowed values, pattern, range."""

    name: str
    kind: Kind = "string"
    required: bool = True
    allowed: tuple[str, ...] | None = None
    pattern: str | None = None
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    decimals: int | None = None
    max_length: int | None = None
    fmt: str | None = None


@dataclass(frozen=True)
class Rule:
    """A cross-column rule on the typed frame; ``ok`` returns True for rows that pass."""

    column: str
    check: str
    ok: Callable[[pd.DataFrame], pd.Series]


def not_after(earlier: str, later: str) -> Callable[[pd.DataFrame], pd.Series]:
    """Rule check: ``earlier`` ≤ ``later`` wherever both are known (missing ones are reported
    by their own field checks)."""

    def ok(df: pd.DataFrame) -> pd.Series:
        unknown = df[earlier].isna() | df[later].isna()
        return unknown | (df[earlier] <= df[later])

    return ok


@dataclass(frozen=True)
class Contract:
    """The schema a source promises: its fields, cross-column rules and natural key."""

    source: str
    fields: tuple[Field, ...]
    rules: tuple[Rule, ...] = ()
    key: str | None = None

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.fields]

    def with_fields(self, changes: Mapping[str, Mapping[str, Any]]) -> Contract:
        """A copy with some fields' attributes replaced, e.g. ``{"region": {"allowed": (...)}}``."""
        unknown = set(changes) - set(self.columns)
        if unknown:
            raise ValueError(f"contract {self.source} has no field(s) {sorted(unknown)}")
        fields = tuple(
            replace(f, **dict(changes[f.name])) if f.name in changes else f for f in self.fields
        )
        return replace(self, fields=fields)


@dataclass
class FrameCheck:
    """Outcome of a contract check on one chunk (index-aligned with the input frame)."""

    typed: pd.DataFrame
    failed: pd.Series
    reasons: dict[object, list[Reason]] = field(default_factory=dict)


def check_columns(contract: Contract, columns: Iterable[str], *, where: str) -> None:
    """Raise SchemaMismatchError naming every required column that ``columns`` lacks."""
    present = list(columns)
    missing = [c for c in contract.columns if c not in present]
    if missing:
        unexpected = [c for c in present if c not in contract.columns]
        raise SchemaMismatchError(contract.source, where, missing, unexpected)


def check_frame(contract: Contract, raw: pd.DataFrame) -> FrameCheck:
    """Type and check every field and rule on ``raw`` column-wise; collect reasons per bad row."""
    check_columns(contract, raw.columns, where="chunk")
    columns: dict[str, pd.Series] = {}
    failures: list[tuple[str | None, str, np.ndarray]] = []
    for spec in contract.fields:
        values, column_failures = _check_field(spec, raw[spec.name])
        columns[spec.name] = values
        failures.extend((spec.name, check, mask) for check, mask in column_failures)
    typed = pd.DataFrame(columns, index=raw.index)
    for rule in contract.rules:
        ok = rule.ok(typed).fillna(True).to_numpy(dtype=bool)
        if not ok.all():
            failures.append((rule.column, rule.check, ~ok))
    failed = np.zeros(len(raw), dtype=bool)
    for _, _, mask in failures:
        failed |= mask
    reasons: dict[object, list[Reason]] = {}
    for column, check, mask in failures:
        rows = np.flatnonzero(mask)
        raw_values = raw[column].iloc[rows].tolist() if column else [None] * len(rows)
        for label, value in zip(raw.index[rows], raw_values, strict=True):
            reasons.setdefault(label, []).append(
                Reason(column=column, check=check, value=_as_text(value))
            )
    return FrameCheck(typed=typed, failed=pd.Series(failed, index=raw.index), reasons=reasons)


def _as_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)


def _is_numeric(raw: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype)


def _is_arrow_text(raw: pd.Series) -> bool:
    """Arrow-backed strings (a text file read in chunks by Arrow): checked without Python
    objects, each value already a string."""
    return isinstance(raw.dtype, pd.StringDtype) and raw.dtype.storage == "pyarrow"


def _to_arrow_text(raw: pd.Series) -> tuple[pa.Array, np.ndarray | None]:
    """Raw values as an Arrow string array, and where a present value was not a string.

    Text sources only hold strings; JSON and SQLite can hold numbers, which become their text
    (the returned mask lets a string field reject them).
    """
    if _is_arrow_text(raw):
        return pa.array(raw.array), None
    if raw.dtype == object:
        try:
            return pa.array(raw.to_numpy(), type=pa.string(), from_pandas=True), None
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            objects = raw.to_numpy()
            not_text = np.fromiter(
                (not isinstance(v, str) for v in objects), dtype=bool, count=len(objects)
            )
            return pa.array(raw.astype("string"), type=pa.string(), from_pandas=True), (
                not_text & raw.notna().to_numpy()
            )
    text = pa.array(raw.astype("string"), type=pa.string(), from_pandas=True)
    return text, raw.notna().to_numpy()


def _mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A nullable Arrow boolean result as a numpy mask (null counts as False)."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _check_field(spec: Field, raw: pd.Series) -> tuple[pd.Series, list[tuple[str, np.ndarray]]]:
    """Typed values of one column (invalid → missing) and its failing-row masks per check."""
    numeric_input = _is_numeric(raw)
    text_checks = any(x is not None for x in (spec.allowed, spec.pattern, spec.max_length))
    text, not_text = (None, None)
    if spec.kind not in ("integer", "decimal") or text_checks or _is_arrow_text(raw):
        text, not_text = _to_arrow_text(raw)
    values, unparsed = _parse(spec, raw, text, numeric_input)
    if text is not None and not numeric_input:
        missing = ~_mask(pc.not_equal(pc.utf8_trim_whitespace(text), ""))
    else:
        missing = _missing_numbers(raw, unparsed)
    if spec.kind == "string" and not_text is not None:
        unparsed = unparsed | not_text
    failures: list[tuple[str, np.ndarray]] = []
    if spec.required:
        failures.append(("required", missing))
    failures.append(("type", ~missing & unparsed))
    ok = ~missing & ~unparsed
    if spec.allowed is not None and text is not None:
        failures.append(("allowed", ok & ~_mask(pc.is_in(text, pa.array(spec.allowed)))))
    if spec.pattern is not None and text is not None:
        match = _mask(pc.match_substring_regex(text, f"^(?:{spec.pattern})$"))
        failures.append(("pattern", ok & ~match))
    if spec.max_length is not None and text is not None:
        too_long = _mask(pc.greater(pc.utf8_length(text), spec.max_length))
        failures.append(("max_length", ok & too_long))
    if spec.kind in ("integer", "decimal"):
        failures.extend(_range_failures(spec, values, ok))
    failures = [(check, mask) for check, mask in failures if mask.any()]
    if not failures:
        return values, failures
    invalid = np.logical_or.reduce([mask for _, mask in failures])
    return values.mask(invalid), failures


def _missing_numbers(raw: pd.Series, unparsed: np.ndarray) -> np.ndarray:
    """Null values, plus blank strings among the few values that did not parse as numbers."""
    missing = raw.isna().to_numpy()
    suspects = np.flatnonzero(unparsed & ~missing)
    if len(suspects):
        values = raw.to_numpy()[suspects]
        blank = np.array([isinstance(v, str) and not v.strip() for v in values], dtype=bool)
        missing[suspects[blank]] = True
    return missing


def _range_failures(spec: Field, values: pd.Series, ok: np.ndarray) -> list[tuple[str, np.ndarray]]:
    numbers = values.to_numpy(dtype=float, na_value=np.nan)
    out: list[tuple[str, np.ndarray]] = []
    with np.errstate(invalid="ignore"):
        if spec.gt is not None:
            out.append(("gt", ok & ~(numbers > spec.gt)))
        if spec.ge is not None:
            out.append(("ge", ok & ~(numbers >= spec.ge)))
        if spec.lt is not None:
            out.append(("lt", ok & ~(numbers < spec.lt)))
        if spec.le is not None:
            out.append(("le", ok & ~(numbers <= spec.le)))
        if spec.decimals is not None:
            scaled = numbers * 10**spec.decimals
            out.append(("decimals", ok & ~np.isclose(scaled, np.round(scaled))))
    return out


def _parse(
    spec: Field, raw: pd.Series, text: pa.Array | None, numeric_input: bool
) -> tuple[pd.Series, np.ndarray]:
    """Parse one column to its kind; returns the values and where a value did not parse."""
    fast = _parse_arrow_text(spec, raw, text) if text is not None and _is_arrow_text(raw) else None
    if fast is not None:
        return fast
    if spec.kind == "string":
        if raw.dtype == object:
            return raw, np.zeros(len(raw), dtype=bool)
        assert text is not None
        strings = pd.Series(text.to_numpy(zero_copy_only=False), index=raw.index, dtype=object)
        return strings, np.zeros(len(raw), dtype=bool)
    if spec.kind in ("integer", "decimal"):
        numbers = (
            raw.to_numpy(dtype=float, na_value=np.nan)
            if numeric_input
            else pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        )
        bad = np.isnan(numbers)
        if spec.kind == "decimal":
            return pd.Series(numbers, index=raw.index), bad
        with np.errstate(invalid="ignore"):
            bad |= np.mod(numbers, 1) != 0
        whole = np.where(bad, 0, numbers).astype(np.int64)
        return pd.Series(pd.arrays.IntegerArray(whole, bad.copy()), index=raw.index), bad
    if numeric_input:
        return pd.Series(pd.NaT, index=raw.index), np.ones(len(raw), dtype=bool)
    # ISO 8601 and "mixed" (any format pandas recognises, row by row) may carry an offset
    utc = spec.kind == "timestamp" and spec.fmt in (None, "ISO8601", "mixed")
    fmt = spec.fmt or ("%Y-%m-%d" if spec.kind == "date" else "ISO8601")
    stamps = pd.to_datetime(raw, format=fmt, errors="coerce", utc=utc)
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_localize(None)
    return stamps, stamps.isna().to_numpy()


def _parse_arrow_text(
    spec: Field, raw: pd.Series, text: pa.Array
) -> tuple[pd.Series, np.ndarray] | None:
    """Arrow-backed text parsed in C++: kept as is (string), cast to float (decimal) or to a
    timestamp (strict ISO 8601 without offset). None when a value is outside what the cast
    reads (an offset, another date format, a typo): pandas then parses the column as before."""
    if spec.kind == "string":
        return raw, np.zeros(len(raw), dtype=bool)
    iso = spec.kind == "timestamp" and spec.fmt in (None, "ISO8601", "mixed")
    if spec.kind != "decimal" and not iso:
        return None
    blank = pc.equal(pc.utf8_trim_whitespace(text), "")
    present = pc.if_else(blank, pa.scalar(None, pa.string()), text)
    try:
        parsed = pc.cast(present, pa.float64() if spec.kind == "decimal" else pa.timestamp("ns"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if spec.kind == "decimal":
        numbers = parsed.to_numpy(zero_copy_only=False)  # null -> NaN
        return pd.Series(numbers, index=raw.index), np.isnan(numbers)
    stamps = pd.Series(parsed.to_numpy(zero_copy_only=False), index=raw.index)
    return stamps, stamps.isna().to_numpy()
