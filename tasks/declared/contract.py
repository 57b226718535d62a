"""The contract of a snapshot source, derived from the spec and the data.

Types are inferred (a column is numeric when nearly all its non-blank values are numbers, unless
the spec says otherwise); the stored ``SnapshotContract`` is what the features read, and
``check_contract`` turns it into the built-in ``Contract`` every source's rows are checked by:
blank = null; a value that is not a number in a numeric column quarantines its row.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from tasks.declared.reader import feature_key, find_columns
from tasks.declared.spec import SourceSpec, SpecError
from tasks.ingestion.contracts import Contract, Field, Rule

# Share of non-blank values that must parse as numbers for a column to be inferred numeric;
# the rest are typos to quarantine, not a reason to treat prices as categories.
NUMERIC_SHARE = 0.95
# Categories per column the model knows; an id-like text column must not explode the model.
MAX_CATEGORIES = 100

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ColumnContract:
    """One feature column: header in the file, feature name, type."""

    column: str
    key: str
    dtype: Literal["numeric", "category"]
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class SnapshotContract:
    """Id and label columns, the label's positive values, and every feature column."""

    id_column: str
    label_column: str
    positive: tuple[str, ...]
    columns: tuple[ColumnContract, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SnapshotContract:
        return cls(
            id_column=data["id_column"],
            label_column=data["label_column"],
            positive=tuple(data["positive"]),
            columns=tuple(
                ColumnContract(**{**c, "categories": tuple(c["categories"])})
                for c in data["columns"]
            ),
        )


def normal_label(value: str) -> str:
    """Label values compare case-insensitively, and 1 == 1.0 == "1"."""
    text = value.strip().lower()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else str(number)


def derive_contract(spec: SourceSpec, frame: pd.DataFrame, *, where: str) -> SnapshotContract:
    """Resolve the spec's columns in ``frame``, infer feature types; SpecError if unusable."""
    if spec.label is None:
        raise SpecError(
            f"{where}: source {spec.name!r} is kind {spec.kind}, with no label column; only a "
            "kind snapshot table has a derived contract (check_source picks the reader by kind)"
        )
    roles = {"id": spec.id, "label": spec.label}
    roles |= {f"categorical[{i}]": c for i, c in enumerate(spec.categorical)}
    roles |= {f"numeric[{i}]": c for i, c in enumerate(spec.numeric)}
    roles |= {f"ignore[{i}]": c for i, c in enumerate(spec.ignore)}
    found = find_columns(frame, roles, where=where)
    id_col, label_col = found["id"], found["label"]
    check_ids(frame[id_col], column=id_col, where=where)
    _check_labels(frame[label_col], spec, column=label_col, where=where)
    forced = {
        found[r]: ("category" if r.startswith("cat") else "numeric") for r in found if "[" in r
    }
    skipped = {id_col, label_col} | {found[r] for r in found if r.startswith("ignore")}
    columns: list[ColumnContract] = []
    keys: dict[str, str] = {}
    for column in frame.columns:
        if column in skipped:
            continue
        if (frame[column] == "").all():  # not silently an all-missing feature
            log.warning(
                "%s: column %r is empty in every row: left out of the features (list it under"
                " ignore to say so)",
                where,
                column,
            )
            continue
        key = feature_key(column)
        if key in keys:
            raise SpecError(
                f"{where}: columns {keys[key]!r} and {column!r} both become feature {key!r};"
                " rename one or list it under ignore"
            )
        keys[key] = column
        dtype = forced.get(column) or _infer(frame[column])
        columns.append(ColumnContract(column=column, key=key, dtype=dtype))  # type: ignore[arg-type]
    if not columns:
        raise SpecError(f"{where}: no feature column left after id, label and ignore")
    return SnapshotContract(
        id_col, label_col, tuple(normal_label(p) for p in spec.positive), tuple(columns)
    )


def with_categories(contract: SnapshotContract, valid: pd.DataFrame) -> SnapshotContract:
    """The contract with each categorical column's values (the most frequent MAX_CATEGORIES,
    sorted); rarer values reach the model as missing."""
    columns = tuple(
        replace(
            c,
            categories=tuple(
                sorted(valid[c.key].dropna().value_counts().index[:MAX_CATEGORIES].astype(str))
            ),
        )
        if c.dtype == "category"
        else c
        for c in contract.columns
    )
    return replace(contract, columns=columns)


def _infer(values: pd.Series) -> str:
    filled = values[values != ""]
    if filled.empty:
        return "numeric"
    parsed = pd.to_numeric(filled, errors="coerce")
    return "numeric" if parsed.notna().mean() >= NUMERIC_SHARE else "category"


def check_ids(ids: pd.Series, *, column: str, where: str) -> None:
    blank = np.flatnonzero((ids == "").to_numpy())
    if len(blank):
        rows = ", ".join(str(i + 2) for i in blank[:5])  # +2: header line, 1-based
        raise SpecError(
            f"{where}: id column {column!r} is empty in {len(blank)} row(s) (file lines {rows});"
            " every row needs an id"
        )
    too_long = ids[ids.str.len() > 64]
    if len(too_long):
        raise SpecError(
            f"{where}: id {too_long.iloc[0][:80]!r} in {column!r} is over 64 characters"
        )


def _check_labels(labels: pd.Series, spec: SourceSpec, *, column: str, where: str) -> None:
    """Every non-blank label is positive or one of the 'stayed' values, else SpecError naming them.

    Without ``negative`` in the spec the flag is binary: exactly one other value means "stayed".
    """
    seen = sorted({normal_label(v) for v in labels.unique() if v != ""})
    positive = {normal_label(p) for p in spec.positive}
    others = [v for v in seen if v not in positive]
    if not positive & set(seen):
        raise SpecError(
            f"{where}: no row of label {column!r} is positive {spec.positive} (values: {seen})"
        )
    if spec.negative is not None:
        allowed = {normal_label(n) for n in spec.negative}
        unexpected = [v for v in others if v not in allowed]
        if unexpected:
            raise SpecError(
                f"{where}: label {column!r} has values {unexpected} that are neither positive"
                f" {spec.positive} nor negative {spec.negative}; add them to one of the lists"
            )
    elif len(others) > 1:
        raise SpecError(
            f"{where}: label {column!r} has values {others} besides positive {spec.positive};"
            " a churn flag has one other value — list the 'stayed' values under negative:"
            " (and fix or blank the rest)"
        )
    if not others:
        raise SpecError(f"{where}: every row of label {column!r} is positive; nobody stayed")


def check_contract(contract: SnapshotContract, *, source: str) -> Contract:
    """The built-in contract the snapshot's rows are checked against (``check_frame``): id and
    label required, numeric columns decimal, categories text, blank = null; and an id on two
    rows that differ is a conflict (identical rows are collapsed before the check)."""
    id_column = contract.id_column

    def unique_id(df: pd.DataFrame) -> pd.Series:
        return ~df[id_column].duplicated(keep=False)

    features = tuple(
        Field(c.column, "decimal" if c.dtype == "numeric" else "string", required=False)
        for c in contract.columns
    )
    return Contract(
        source=source,
        key=id_column,
        fields=(Field(id_column), Field(contract.label_column), *features),
        rules=(Rule(id_column, "conflicting_duplicate", unique_id),),
    )
