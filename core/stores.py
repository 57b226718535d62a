"""Set up the stores once, safely: create and migrate the warehouse and the MLflow backend store.

Every entry point (the flows, ``make demo``, the CLIs) calls ``prepare_stores`` before using a
store. Each store is migrated under a cross-process lock (an advisory lock on PostgreSQL, a lock
file next to a SQLite file), so two processes starting on an empty ``CHURN_HOME`` take turns: the
first creates the schema, the second finds it current. Without it, MLflow's concurrent first-time
migrations leave ``_alembic_tmp_*`` tables behind and break the store for good. An MLflow tracking
server (``http(s)://``) is only asked whether it answers, so that a stopped one is reported as such,
at once, before any stage talks to it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import NullPool

from core.db import upgrade_database
from core.locks import database_lock
from core.settings import Settings, get_settings

log = logging.getLogger(__name__)
SETUP_LOCK = "setup"
_prepared: set[tuple[str, str]] = set()  # (store, url) already set up by this process
_guard = threading.Lock()


class StoreSetupError(Exception):
    """A store cannot be set up as configured (bad path or URL): fix the configuration."""


class StoreUnavailableError(StoreSetupError):
    """A store's server did not answer (connection refused, timeout): worth retrying."""


def prepare_stores(
    settings: Settings | None = None,
    *,
    warehouse: bool = True,
    tracking: bool = True,
    timeout_s: float | None = None,
) -> None:
    """Create and migrate the warehouse and/or the MLflow store (once per process, under a lock).

    ``timeout_s`` (default ``CHURN_SETUP_TIMEOUT_S``) bounds the wait for another process
    setting up the same store; past it a ``LockTimeoutError`` (transient: retried) is raised."""
    settings = settings or get_settings()
    timeout_s = settings.setup_timeout_s if timeout_s is None else timeout_s
    with _guard:
        check_home(settings.home)
        url = settings.database_url
        if warehouse and ("warehouse", url) not in _prepared:
            _setup("warehouse", url, "CHURN_DATABASE_URL", upgrade_database, timeout_s)
            _prepared.add(("warehouse", url))
        uri = settings.mlflow_tracking_uri
        if tracking and _is_database(uri) and ("tracking", uri) not in _prepared:
            _setup("MLflow store", uri, "CHURN_MLFLOW_TRACKING_URI", migrate_mlflow, timeout_s)
            _prepared.add(("tracking", uri))
        elif tracking and _is_http(uri) and ("tracking", uri) not in _prepared:
            check_tracking_server(uri)
            _prepared.add(("tracking", uri))


def check_home(home: Path) -> None:
    """CHURN_HOME must be a folder we can create and write to."""
    where = home.resolve()
    if where.exists() and not where.is_dir():
        raise StoreSetupError(
            f"CHURN_HOME={home} is a file, not a folder; point CHURN_HOME at a folder "
            "(it holds warehouse.db, mlflow.db, sources/, ...) or move the file away"
        )
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreSetupError(
            f"cannot create CHURN_HOME={home} ({exc.strerror}); choose a writable folder"
        ) from exc


def check_tracking_server(uri: str, timeout_s: float = 10.0) -> None:
    """The MLflow tracking server at ``uri`` answers (any HTTP status will do); else
    ``StoreUnavailableError`` (transient: a worker's run retries it)."""
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout_s).close()
    except urllib.error.HTTPError:
        return  # it answered, if only to say no: the calls that follow report their own errors
    except OSError as exc:  # URLError, refused, timed out
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise StoreUnavailableError(
            f"cannot reach the MLflow store at {_safe(uri)} ({reason}); start the MLflow "
            "server or fix CHURN_MLFLOW_TRACKING_URI"
        ) from exc


def migrate_mlflow(uri: str) -> None:
    """Create MLflow's tables in an empty database, or upgrade an older schema to this MLflow."""
    from mlflow.store.db import utils  # the functions behind `mlflow db upgrade`

    engine = create_engine(uri, poolclass=NullPool)
    try:
        if not utils._all_tables_exist(engine):
            log.info("creating the MLflow store at %s", _safe(uri))
            utils._initialize_tables(engine)
        elif utils._get_schema_version(engine) != utils._get_latest_schema_revision():
            log.info("upgrading the MLflow store at %s to this MLflow version", _safe(uri))
            utils._upgrade_db(engine)
    finally:
        engine.dispose()


def _setup(
    what: str, url: str, variable: str, migrate: Callable[[str], None], timeout_s: float
) -> None:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreSetupError(f"{variable}={url!r} is not a database URL ({exc})") from exc
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        _check_sqlite_folder(Path(str(parsed.database)), what, variable)
    try:
        doing = f"setting up the {what}"
        lock = database_lock(url, name=SETUP_LOCK, timeout_s=timeout_s, what=doing)
        with lock as held:
            if held.waited_s > 1:
                log.info("waited %.1f s for another process setting up the %s", held.waited_s, what)
            migrate(url)
    except NoSuchModuleError as exc:
        raise StoreSetupError(f"{variable}={_safe(url)}: unknown database driver ({exc})") from exc
    except OperationalError as exc:
        cause = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        if parsed.get_backend_name() == "sqlite" and _is_busy(cause):
            raise StoreUnavailableError(
                f"the {what} {_safe(url)} is locked by another writer ({cause}); retried — if it "
                "persists, stop the process that holds it"
            ) from exc
        if parsed.get_backend_name() == "sqlite":
            raise StoreSetupError(
                f"cannot open the {what} {_safe(url)} ({cause}); check {variable} and CHURN_HOME"
            ) from exc
        raise StoreUnavailableError(
            f"cannot reach the {what} at {_safe(url)} ({cause}); start the database server "
            f"or fix {variable}"
        ) from exc


def _is_busy(cause: str) -> bool:
    """SQLite's "database is locked" / "busy": another writer, so a later attempt can succeed."""
    lowered = cause.lower()
    return "locked" in lowered or "busy" in lowered


def _check_sqlite_folder(database: Path, what: str, variable: str) -> None:
    for folder in [database.parent, *database.parent.parents]:
        if folder.exists():
            if not folder.is_dir():
                raise StoreSetupError(
                    f"the {what} {database} cannot be created: {folder} is a file, not a folder; "
                    f"fix {variable} or CHURN_HOME"
                )
            break
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreSetupError(
            f"cannot create the folder of the {what} {database} ({exc.strerror}); fix {variable}"
        ) from exc


def _is_database(uri: str) -> bool:
    try:
        return make_url(uri).get_backend_name() in ("sqlite", "postgresql", "mysql", "mssql")
    except ArgumentError:
        return False  # http(s)://, file:, databricks: MLflow owns those stores


def _is_http(uri: str) -> bool:
    return uri.lower().startswith(("http://", "https://"))


def _safe(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url
