from sqlalchemy import inspect

from core.db import make_engine
from core.tables import metadata


def test_migrations_create_every_table(db_url: str) -> None:
    engine = make_engine(db_url)
    names = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {t.name for t in metadata.sorted_tables} <= names
