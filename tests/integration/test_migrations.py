from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, select, text

from core.db import make_engine, upgrade_database
from core.tables import metadata, online_features
from tasks.features.definitions import BUILTIN_VIEW


def test_migrations_create_every_table(db_url: str) -> None:
    engine = make_engine(db_url)
    names = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {t.name for t in metadata.sorted_tables} <= names


def test_migrations_match_the_table_definitions(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == [], f"core/tables.py and migrations/ disagree: {diff}"


@pytest.fixture(params=["sqlite", "postgres"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, unmigrated warehouse URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    new_database: Callable[[], str] = request.getfixturevalue("new_postgres_database")
    return new_database()


def _downgrade(url: str, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parents[2] / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.downgrade(cfg, revision)


def test_one_online_store_takes_the_declared_rows_and_gives_them_back(blank_url: str) -> None:
    upgrade_database(blank_url, "0010")
    at = datetime(2024, 5, 1)
    row = {"as_of": at, "features": "{}", "materialized_at": at}
    columns = "customer_id, as_of, definitions_hash, features, materialized_at"
    values = ":customer_id, :as_of, :definitions_hash, :features, :materialized_at"
    engine = make_engine(blank_url)
    with engine.begin() as conn:
        conn.execute(
            text(f"INSERT INTO online_features ({columns}) VALUES ({values})"),
            [{**row, "customer_id": "C1", "definitions_hash": "builtin"}],
        )
        conn.execute(
            text(f"INSERT INTO source_online_features (source, {columns}) VALUES (:s, {values})"),
            [
                {**row, "s": "telco", "customer_id": "C1", "definitions_hash": "telco"},
                {**row, "s": "shop", "customer_id": "u1", "definitions_hash": "shop"},
            ],
        )
    upgrade_database(blank_url)
    t = online_features.c
    with engine.connect() as conn:
        moved = conn.execute(
            select(t.view, t.customer_id, t.definitions_hash, t.as_of).order_by(t.view)
        ).all()
    assert [tuple(r) for r in moved] == [
        (BUILTIN_VIEW, "C1", "builtin", at),  # the built-in catalog's rows before views
        ("shop", "u1", "shop", at),
        ("telco", "C1", "telco", at),  # the same id in two views: the key is (view, id)
    ]
    assert "source_online_features" not in inspect(engine).get_table_names()
    _downgrade(blank_url, "0010")
    with engine.connect() as conn:
        builtin = conn.execute(text("SELECT customer_id, definitions_hash FROM online_features"))
        declared = conn.execute(
            text("SELECT source, customer_id FROM source_online_features ORDER BY source")
        )
        assert [tuple(r) for r in builtin] == [("C1", "builtin")]
        assert [tuple(r) for r in declared] == [("shop", "u1"), ("telco", "C1")]
    engine.dispose()


def test_declared_runs_are_renamed_and_fit_a_long_source_name(blank_url: str) -> None:
    upgrade_database(blank_url, "0011")
    at = datetime(2024, 5, 1)
    run = (
        "INSERT INTO ingestion_runs (run_id, source, status, started_at, rows_read, rows_loaded,"
        " rows_quarantined) VALUES (:r, :s, 'ok', :t, 0, 0, 0)"
    )
    engine = make_engine(blank_url)
    with engine.begin() as conn:
        conn.execute(text(run), [{"r": "r1", "s": "spec:telco", "t": at}])
        conn.execute(text(run), [{"r": "r2", "s": "crm", "t": at}])
    upgrade_database(blank_url)
    long_name = "declared:" + "x" * 24  # the longest source name a spec allows
    with engine.begin() as conn:
        conn.execute(text(run), [{"r": "r3", "s": long_name, "t": at}])
        sources = conn.execute(text("SELECT source FROM ingestion_runs ORDER BY run_id")).scalars()
        assert list(sources) == ["declared:telco", "crm", long_name]
        conn.execute(text("DELETE FROM ingestion_runs WHERE run_id = 'r3'"))
    _downgrade(blank_url, "0011")
    with engine.connect() as conn:
        sources = conn.execute(text("SELECT source FROM ingestion_runs ORDER BY run_id")).scalars()
        assert list(sources) == ["spec:telco", "crm"]
    engine.dispose()


def test_existing_predictions_get_their_kind(blank_url: str) -> None:
    upgrade_database(blank_url, "0012")
    at = datetime(2024, 5, 1)
    insert = (
        "INSERT INTO prediction_log (request_id, customer_id, features, score, model_version,"
        " predicted_at) VALUES (:r, :c, '{}', 0.5, '1', :t)"
    )
    engine = make_engine(blank_url)
    with engine.begin() as conn:
        conn.execute(text(insert), {"r": "a1", "c": "C1", "t": at})
        conn.execute(text(insert), {"r": "a2", "c": None, "t": at})
        conn.execute(text(insert), {"r": "backfill-20240501-C2", "c": "C2", "t": at})
    upgrade_database(blank_url)
    with engine.connect() as conn:
        kinds = conn.execute(
            text("SELECT request_id, kind FROM prediction_log ORDER BY request_id")
        )
        assert [tuple(r) for r in kinds] == [
            ("a1", "predict"),
            ("a2", "what_if"),
            ("backfill-20240501-C2", "backfill"),
        ]
    engine.dispose()
