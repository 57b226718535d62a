"""Read a declared source's file(s) as text, and find the spec's columns in them.

Every cell is read as a stripped string ("" = blank) so that the contract, not the file reader,
decides types; Parquet values are converted to the same text form. A file read in chunks is
parsed by Arrow's CSV reader (C++, its own threads) into Arrow-backed string columns.
"""

from __future__ import annotations

import csv
import glob
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from tasks.declared.spec import SpecError

RESERVED = {"customer_id", "as_of", "label", "row_id", "score", "source"}
TEXT = pd.StringDtype("pyarrow")  # the cells of a file read in chunks
_BLOCK_BYTES = 4 << 20  # Arrow parses this much text at a time


def read_text_table(pattern: str, *, what: str = "file") -> pd.DataFrame:
    """All files matching ``pattern`` (CSV or Parquet), concatenated, every cell a string."""
    paths = _paths(pattern, what=what)
    frames = [_read_one(Path(p)) for p in paths]
    headers = [list(f.columns) for f in frames]
    if any(h != headers[0] for h in headers[1:]):
        odd = next(p for p, h in zip(paths, headers, strict=True) if h != headers[0])
        raise SpecError(
            f"{what} {odd!r} has other columns than {paths[0]!r}; one schema per source"
        )
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def iter_text_tables(
    pattern: str,
    *,
    what: str = "file",
    chunk_rows: int,
    on_ragged: Callable[[str, int], None] | None = None,
) -> Iterator[pd.DataFrame]:
    """The files matching ``pattern`` in chunks of at most ``chunk_rows`` rows, every cell a
    stripped string (Arrow-backed): memory bounded by the chunk, not the file. The files'
    headers must match. A CSV line with another number of fields than the header is left out
    and passed to ``on_ragged(text, fields)`` (without it: SpecError naming the line)."""
    paths = _paths(pattern, what=what)
    header = None
    for path in paths:
        for chunk in _read_chunks(Path(path), chunk_rows, on_ragged):
            if header is None:
                header = list(chunk.columns)
            elif list(chunk.columns) != header:
                raise SpecError(
                    f"{what} {path!r} has other columns than {paths[0]!r}; one schema per source"
                )
            yield chunk


def _paths(pattern: str, *, what: str) -> list[str]:
    paths = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
    paths = [p for p in paths if Path(p).is_file()]
    if not paths:
        raise SpecError(f"{what} {pattern!r}: no such file")
    return paths


def _read_chunks(
    path: Path, chunk_rows: int, on_ragged: Callable[[str, int], None] | None
) -> Iterator[pd.DataFrame]:
    if _is_parquet(path):
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            text = _as_text(batch.to_pandas())
            yield text.astype(TEXT) if len(text.columns) else text
        return
    schema = _csv_schema(path)
    batches: list[pa.RecordBatch] = []
    held, chunks = 0, 0
    for batch in _csv_batches(path, schema, on_ragged):
        batches.append(batch)
        held += batch.num_rows
        while held >= chunk_rows:
            table = pa.Table.from_batches(batches, schema=schema)
            yield _arrow_text(table.slice(0, chunk_rows))
            chunks += 1
            rest = table.slice(chunk_rows)
            batches, held = rest.to_batches(), rest.num_rows
    if held or not chunks:  # the rest; a file of no rows still shows its header
        yield _arrow_text(pa.Table.from_batches(batches, schema=schema))


def _csv_batches(
    path: Path, schema: pa.Schema, on_ragged: Callable[[str, int], None] | None
) -> Iterator[pa.RecordBatch]:
    """Arrow record batches of the file's text (no cell parsed, blank = "")."""
    sep = _csv_options(path)["sep"]

    def ragged(row: Any) -> str:
        if on_ragged is None:
            raise SpecError(
                f"file {str(path)!r}: a line has {row.actual_columns} fields, the header"
                f" {row.expected_columns} ({row.text[:80]!r}); fix the file"
            )
        on_ragged(row.text, row.actual_columns)
        return "skip"

    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=_BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(
            delimiter=sep, newlines_in_values=True, invalid_row_handler=ragged
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={f.name: f.type for f in schema},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    yield from reader


def _csv_schema(path: Path) -> pa.Schema:
    """Every column of the file's header as text; SpecError on a header naming a column twice."""
    sep = _csv_options(path)["sep"]
    with path.open(encoding="utf-8-sig", newline="") as handle:
        names = next(csv.reader(handle, delimiter=sep), [])
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SpecError(f"file {str(path)!r}: the header names column {twice[0]!r} twice")
    return pa.schema([(n, pa.string()) for n in names])


def _arrow_text(table: pa.Table) -> pd.DataFrame:
    """Arrow text columns as a DataFrame of stripped Arrow-backed strings."""
    columns = {
        name.strip(): pd.Series(pd.arrays.ArrowStringArray(pc.utf8_trim_whitespace(column)))
        for name, column in zip(table.column_names, table.columns, strict=True)
    }
    return pd.DataFrame(columns)


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in {".parquet", ".pq"}


def _csv_options(path: Path) -> dict[str, Any]:
    """How pandas reads a text file of the source: every cell a string, nothing parsed."""
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".txt", ".tsv"}:
        raise SpecError(
            f"file {str(path)!r}: unsupported format {path.suffix!r}; use CSV or Parquet"
        )
    sep = "\t" if suffix == ".tsv" else ","
    return {"dtype": str, "keep_default_na": False, "na_filter": False, "sep": sep}


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return _strip(frame.astype(object).where(frame.notna(), "").astype(str))


def _strip(text: pd.DataFrame) -> pd.DataFrame:
    text.columns = [str(c).strip() for c in text.columns]
    return text.apply(lambda col: col.str.strip())


def _read_one(path: Path) -> pd.DataFrame:
    if _is_parquet(path):
        return _as_text(pd.read_parquet(path))
    return _strip(pd.read_csv(path, **_csv_options(path)))


def find_columns(frame: pd.DataFrame, wanted: Mapping[str, str], *, where: str) -> dict[str, str]:
    """Map each spec role to the file's header, matched case-insensitively.

    Raises SpecError naming the first spec field whose column the file lacks.
    """
    by_lower: dict[str, str] = {}
    for column in frame.columns:
        if column.lower() in by_lower:
            raise SpecError(
                f"{where}: columns {by_lower[column.lower()]!r} and {column!r} differ only in case"
            )
        by_lower[column.lower()] = column
    found: dict[str, str] = {}
    for role, name in wanted.items():
        if name.strip().lower() not in by_lower:
            raise SpecError(
                f"{where}: spec field {role!r} names column {name!r}, which the file lacks"
                f" (columns: {', '.join(frame.columns)})"
            )
        found[role] = by_lower[name.strip().lower()]
    return found


def feature_key(column: str) -> str:
    """The column's feature name: lower_snake_case, never a reserved name."""
    key = re.sub(r"[^a-z0-9]+", "_", column.lower()).strip("_") or "column"
    if not key[0].isalpha():
        key = f"c_{key}"
    return f"f_{key}" if key in RESERVED else key
