"""The contract of a snapshot source, derived from the spec and the data.

Types are inferred (a column is numeric when nearly all its non-blank values are numbers, unless
the spec says otherwise); the stored ``SnapshotContract`` is what the features read, and
``check_contract`` turns it into the built-in ``Contract`` every source's rows are checked by:
blank = null; a value that is not a number in a numeric column quarantines its row.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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
    return derive_contract_chunks(spec, [frame], where=where)


def derive_contract_chunks(
    spec: SourceSpec,
    chunks: Iterable[pd.DataFrame],
    *,
    where: str,
    each: Callable[[pd.DataFrame, str], None] | None = None,
) -> SnapshotContract:
    """``derive_contract`` over a table read in chunks (one pass, memory of one chunk);
    ``each(chunk, id_column)`` sees every chunk on the way."""
    if spec.label is None:
        raise SpecError(
            f"{where}: source {spec.name!r} is kind {spec.kind}, with no label column; only a "
            "kind snapshot table has a derived contract (check_source picks the reader by kind)"
        )
    roles = {"id": spec.id, "label": spec.label}
    roles |= {f"categorical[{i}]": c for i, c in enumerate(spec.categorical)}
    roles |= {f"numeric[{i}]": c for i, c in enumerate(spec.numeric)}
    roles |= {f"ignore[{i}]": c for i, c in enumerate(spec.ignore)}
    profile: _Profile | None = None
    for chunk in chunks:
        if profile is None:
            found = find_columns(chunk, roles, where=where)
            profile = _Profile(list(chunk.columns), found["id"], found["label"])
        profile.add(chunk)
        if each is not None:
            each(chunk, profile.id_column)
    if profile is None:
        raise SpecError(f"{where}: holds no rows")
    id_col, label_col = profile.id_column, profile.label_column
    profile.check_ids(where=where)
    _check_labels(sorted(profile.labels), spec, column=label_col, where=where)
    forced = {
        found[r]: ("category" if r.startswith("cat") else "numeric") for r in found if "[" in r
    }
    skipped = {id_col, label_col} | {found[r] for r in found if r.startswith("ignore")}
    columns: list[ColumnContract] = []
    keys: dict[str, str] = {}
    for column in profile.columns:
        if column in skipped:
            continue
        if not profile.filled[column]:  # not silently an all-missing feature
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
        numeric = profile.numbers[column] / profile.filled[column] >= NUMERIC_SHARE
        dtype = forced.get(column) or ("numeric" if numeric else "category")
        columns.append(ColumnContract(column=column, key=key, dtype=dtype))  # type: ignore[arg-type]
    if not columns:
        raise SpecError(f"{where}: no feature column left after id, label and ignore")
    return SnapshotContract(
        id_col, label_col, tuple(normal_label(p) for p in spec.positive), tuple(columns)
    )


@dataclass
class _Profile:
    """What the contract is derived from, summed over a table's chunks: per column the non-blank
    values and those that read as numbers; the blank ids' file lines, the first too-long id, and
    the label's values."""

    columns: list[str]
    id_column: str
    label_column: str
    rows: int = 0
    filled: Counter[str] = field(default_factory=Counter)
    numbers: Counter[str] = field(default_factory=Counter)
    blank_ids: int = 0
    blank_lines: list[int] = field(default_factory=list)
    too_long: str | None = None
    labels: set[str] = field(default_factory=set)

    def add(self, chunk: pd.DataFrame) -> None:
        for column in self.columns:
            values = chunk[column]
            filled = values[(values != "").to_numpy(dtype=bool)]
            self.filled[column] += len(filled)
            self.numbers[column] += _count_numbers(filled)
        ids = chunk[self.id_column]
        blank = np.flatnonzero((ids == "").to_numpy(dtype=bool))
        self.blank_ids += len(blank)
        self.blank_lines += [self.rows + int(i) + 2 for i in blank[: 5 - len(self.blank_lines)]]
        if self.too_long is None:
            long_ids = ids[(ids.str.len() > 64).to_numpy(dtype=bool)]
            self.too_long = str(long_ids.iloc[0]) if len(long_ids) else None
        self.labels |= {normal_label(str(v)) for v in chunk[self.label_column].unique() if v != ""}
        self.rows += len(chunk)

    def check_ids(self, *, where: str) -> None:
        if self.blank_ids:
            lines = ", ".join(str(n) for n in self.blank_lines)  # header line, 1-based
            raise SpecError(
                f"{where}: id column {self.id_column!r} is empty in {self.blank_ids} row(s)"
                f" (file lines {lines}); every row needs an id"
            )
        if self.too_long is not None:
            raise SpecError(
                f"{where}: id {self.too_long[:80]!r} in {self.id_column!r} is over 64 characters"
            )


def _count_numbers(filled: pd.Series) -> int:
    """How many of the non-blank values read as numbers, as ``pd.to_numeric`` reads them. On
    Arrow text: Arrow's cast when every value takes it; else pandas reads only the values that
    could be numbers (a sign, digit, point, inf or nan first), so a text column costs no Python
    object per value."""
    if isinstance(filled.dtype, pd.StringDtype) and filled.dtype.storage == "pyarrow":
        text = pa.array(filled.array)
        try:
            numbers = pc.cast(text, pa.float64())
            return int(len(numbers) - (pc.sum(pc.is_nan(numbers)).as_py() or 0))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            maybe = pc.match_substring_regex(text, r"(?i)^[+-]?(\d|\.\d|inf|nan)")
            filled = filled[np.asarray(pc.fill_null(maybe, False), dtype=bool)].astype(object)
    return int(pd.to_numeric(filled, errors="coerce").notna().sum())


def with_categories(contract: SnapshotContract, valid: pd.DataFrame) -> SnapshotContract:
    """The contract with each categorical column's values (the most frequent MAX_CATEGORIES,
    sorted); rarer values reach the model as missing."""
    counts = {c.key: value_counts(valid[c.key]) for c in contract.columns if c.dtype == "category"}
    return categories_from_counts(contract, counts)


def categories_from_counts(
    contract: SnapshotContract, counts: Mapping[str, Counter[str]]
) -> SnapshotContract:
    """``with_categories`` from each categorical column's value counts (summed over chunks); a
    tie at the cut goes to the value that sorts first."""
    columns = tuple(
        replace(c, categories=tuple(sorted(_most_frequent(counts.get(c.key, Counter())))))
        if c.dtype == "category"
        else c
        for c in contract.columns
    )
    return replace(contract, columns=columns)


def value_counts(values: pd.Series) -> Counter[str]:
    """How often each present value occurs, by its text."""
    counted = values.dropna().astype(str).value_counts()
    return Counter({str(k): int(v) for k, v in counted.items()})


def _most_frequent(counts: Counter[str]) -> list[str]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [value for value, _ in ranked[:MAX_CATEGORIES]]


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


def _check_labels(seen: list[str], spec: SourceSpec, *, column: str, where: str) -> None:
    """Every non-blank label (``seen``: normalized, sorted) is positive or one of the 'stayed'
    values, else SpecError naming them.

    Without ``negative`` in the spec the flag is binary: exactly one other value means "stayed".
    """
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


def check_contract(
    contract: SnapshotContract,
    *,
    source: str,
    unique_id: Callable[[pd.DataFrame], pd.Series] | None = None,
) -> Contract:
    """The built-in contract the snapshot's rows are checked against (``check_frame``): id and
    label required, numeric columns decimal, categories text, blank = null; and an id on two
    rows that differ is a conflict (identical rows are collapsed before the check). Over one
    frame the conflicts are its duplicated ids; a table read in chunks passes ``unique_id``,
    which knows the ids in conflict across all of them."""
    id_column = contract.id_column

    def one_frame(df: pd.DataFrame) -> pd.Series:
        return ~df[id_column].duplicated(keep=False)

    unique_id = unique_id or one_frame

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
