"""A snapshot table (``kind: snapshot``) read in chunks, twice: memory of a chunk, not the file.

The first pass derives the contract (types, label values, ids) and finds the ids on two rows
that differ (by 64-bit hashes of the id and of the row, 16 bytes a row); nothing is written and
any SpecError comes before the load. The second pass is the load: each chunk's valid rows are
written as they come (the first chunk deletes the snapshot's previous rows) and the categories
of the stored contract are counted over every valid row, saved after the last chunk.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Connection, delete, insert

from core.tables import source_snapshots
from tasks.declared.contract import (
    categories_from_counts,
    check_contract,
    derive_contract_chunks,
    normal_label,
    value_counts,
)
from tasks.declared.reader import iter_text_tables
from tasks.declared.repeats import ConflictingIds, row_hashes
from tasks.declared.spec import SourceSpec
from tasks.declared.store import save_contract
from tasks.ingestion.bulk import insert_frame, json_objects
from tasks.ingestion.contracts import Contract

_INSERT_CHUNK = 5_000
SCAN_CHUNK_ROWS = 250_000  # the first pass's chunks


class SnapshotTable:
    """The spec's table: its derived contract, and how its chunks are checked and written."""

    def __init__(
        self,
        spec: SourceSpec,
        *,
        source: str,
        moment: datetime,
        on_ragged: Callable[[str, int], None],
    ) -> None:
        self.spec, self.moment, self._on_ragged = spec, moment, on_ragged
        self._pattern = spec.resolve(spec.file)
        ids = ConflictingIds()

        def pair(chunk: pd.DataFrame, id_column: str) -> None:
            ids.add(row_hashes(chunk[[id_column]]), row_hashes(chunk))

        scan = iter_text_tables(
            self._pattern, what=f"{spec.name}: file", chunk_rows=SCAN_CHUNK_ROWS,
            on_ragged=lambda *_: None,  # quarantined by the load
        )  # fmt: skip
        self.derived = derive_contract_chunks(
            spec, scan, where=f"{spec.name}: file {spec.file!r}", each=pair
        )
        conflicting = ids.conflicting()
        id_column = self.derived.id_column

        def unique_id(df: pd.DataFrame) -> pd.Series:
            hashes = row_hashes(df[[id_column]])
            return pd.Series(~np.isin(hashes, conflicting), index=df.index)

        self.contract: Contract = check_contract(self.derived, source=source, unique_id=unique_id)
        self._counts: dict[str, Counter[str]] = {
            c.key: Counter() for c in self.derived.columns if c.dtype == "category"
        }
        self._cleared = False

    def chunks(self, rows: int) -> Iterator[pd.DataFrame]:
        """The table again, ``rows`` at a time (lines of other field counts to ``on_ragged``)."""
        return iter_text_tables(
            self._pattern, what=f"{self.spec.name}: file", chunk_rows=rows,
            on_ragged=self._on_ragged,
        )  # fmt: skip

    def to_warehouse(self, typed: pd.DataFrame) -> pd.DataFrame:
        derived = self.derived
        values = typed[[c.column for c in derived.columns]]
        values = values.mask(values == "").set_axis([c.key for c in derived.columns], axis=1)
        label = typed[derived.label_column].map(normal_label).isin(derived.positive)
        customers = typed[derived.id_column].rename("customer_id")
        return values.assign(customer_id=customers, label=label.astype("int64"))

    def publish(self, conn: Connection, valid: pd.DataFrame, run_id: str) -> int:
        """Write a chunk's valid rows (the first chunk deletes the snapshot's previous rows);
        returns the rows deleted."""
        for key, counts in self._counts.items():
            counts.update(value_counts(valid[key]))
        gone = 0
        if not self._cleared:
            self._cleared = True
            gone = conn.execute(
                delete(source_snapshots).where(
                    source_snapshots.c.source == self.spec.name,
                    source_snapshots.c.snapshot_at == self.moment,
                )
            ).rowcount
        keys = [c.key for c in self.derived.columns]
        documents = json_objects(valid[keys])
        if documents is None:  # a value JSON text cannot carry as is: SQLAlchemy writes it
            self._insert_records(conn, valid, keys, run_id)
            return int(gone or 0)
        rows = pd.DataFrame(
            {
                "snapshot_at": pd.Series(self.moment, index=valid.index, dtype="datetime64[us]"),
                "customer_id": valid["customer_id"],
                "label": valid["label"],
                "attributes": pd.Series(
                    documents.to_numpy(zero_copy_only=False), index=valid.index
                ),
            }
        )
        insert_frame(conn, source_snapshots, rows, {"source": self.spec.name, "run_id": run_id})
        return int(gone or 0)

    def _insert_records(
        self, conn: Connection, valid: pd.DataFrame, keys: list[str], run_id: str
    ) -> None:
        attributes = valid[keys].astype(object).where(valid[keys].notna(), None)
        records = [
            {
                "source": self.spec.name,
                "snapshot_at": self.moment,
                "customer_id": customer,
                "label": int(label),
                "attributes": values,
                "run_id": run_id,
            }
            for customer, label, values in zip(
                valid["customer_id"], valid["label"], attributes.to_dict("records"), strict=True
            )
        ]
        for start in range(0, len(records), _INSERT_CHUNK):
            conn.execute(insert(source_snapshots), records[start : start + _INSERT_CHUNK])

    def finish(self, conn: Connection) -> None:
        """Store the contract with the categories counted over every valid row."""
        contract = categories_from_counts(self.derived, self._counts)
        save_contract(conn, spec=self.spec, contract=contract.to_dict())
