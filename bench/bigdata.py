"""A large flat table through the whole ``make declare``: wall time and peak memory.

A Telco-shaped table (``simulator.tables.telco_table``, narrowed to 7 columns so that
``BIGDATA_ROWS`` rows, default 5.8 million, make about 200 MB of CSV) is written once, in chunks,
under ``$CHURN_HOME/bench-cache/bigdata-<rows>``, then declared as a ``kind: snapshot`` source and
run through ``python -m flows.declare`` in a fresh ``CHURN_HOME`` whose Prefect server already
runs: ingestion, training set, cross-validation on the row budget, gate, online store. Figures:
``bigdata.rows``, ``bigdata.file_mb``, ``bigdata.table_wall_s``, ``bigdata.table_peak_rss_mb``
(the command's process tree), and the model's ``bigdata.holdout_roc_auc``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bench._common import emit
from bench.events import declare_measured
from core.settings import get_settings

COLUMNS = [
    "customerID",
    "SeniorCitizen",
    "Partner",
    "tenure",
    "Contract",
    "MonthlyCharges",
    "Churn",
]
CHUNK = 500_000
SPEC = {
    "name": "bigtelco",
    "kind": "snapshot",
    "file": "table.csv",
    "id": "customerID",
    "label": "Churn",
    "positive": ["Yes"],
    "snapshot_date": "2024-06-30",
}


def table_file(rows: int) -> Path:
    """The cached folder with table.csv and spec.yaml (written chunk by chunk: bounded memory)."""
    import yaml

    from simulator.tables import telco_table

    folder = (get_settings().home / "bench-cache" / f"bigdata-{rows}").resolve()
    if not (folder / "done").exists():
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "table.csv").open("w", encoding="utf-8") as out:
            for start in range(0, rows, CHUNK):
                chunk = telco_table(min(CHUNK, rows - start), seed=start // CHUNK)[COLUMNS]
                chunk["customerID"] = [f"C{start + i:08d}" for i in range(len(chunk))]
                chunk.to_csv(out, index=False, header=start == 0)
        (folder / "spec.yaml").write_text(yaml.safe_dump(SPEC), encoding="utf-8")
        (folder / "done").write_text(str(rows))
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bigdata", description=__doc__)
    parser.add_argument("--rows", type=int, default=int(os.environ.get("BIGDATA_ROWS", 5_800_000)))
    args = parser.parse_args(argv)
    folder = table_file(args.rows)
    scale = f"{args.rows} rows x {len(COLUMNS)} columns"
    emit("bigdata.rows", args.rows, "rows", scale=scale)
    emit("bigdata.file_mb", (folder / "table.csv").stat().st_size / 2**20, "MiB", scale=scale)
    table = declare_measured(folder / "spec.yaml")
    extra = {"scale": scale, "decision": table["decision"], "training_rows": table["training_rows"]}
    emit("bigdata.table_wall_s", table["wall_s"], "s", **extra)
    emit("bigdata.table_peak_rss_mb", table["peak_rss_mb"], "MiB", scale=scale)
    aucs = {key: table.get(key) for key in ("baseline_roc_auc", "cv_roc_auc")}
    emit("bigdata.holdout_roc_auc", table["holdout_roc_auc"], "roc_auc", scale=scale, **aucs)


if __name__ == "__main__":
    main()
