"""Warehouse tables (SQLAlchemy Core). Alembic migrations create and change them.

Timestamps are naive UTC. Natural keys carry unique constraints so every load is an upsert.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from core.names import DEFAULT_MODEL_NAME

# BIGINT on servers, INTEGER on SQLite (only INTEGER PRIMARY KEY autoincrements there).
_BIGID = BigInteger().with_variant(Integer, "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SCD type 2: one row per version of a customer's CRM attributes; valid_to NULL = current version.
customers = Table(
    "customers",
    metadata,
    Column("version_id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(64), nullable=False),
    Column("signup_date", Date, nullable=False),
    Column("plan", String(32), nullable=False),
    Column("contract", String(32), nullable=False),
    Column("payment_method", String(32), nullable=False),
    Column("region", String(32), nullable=False),
    Column("monthly_charges", Float, nullable=False),
    Column("status", String(16), nullable=False),
    Column("cancel_date", Date, nullable=True),
    Column("valid_from", DateTime, nullable=False),
    Column("valid_to", DateTime, nullable=True),
    Column("attrs_hash", String(64), nullable=False),
    Column("run_id", String(36), nullable=False),
    UniqueConstraint("customer_id", "valid_from", name="uq_customers_customer_id_valid_from"),
    Index("ix_customers_customer_id_valid_to", "customer_id", "valid_to"),
)

# Append-only billing events; txn_id is the billing system's natural key.
transactions = Table(
    "transactions",
    metadata,
    Column("txn_id", String(64), primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("txn_type", String(16), nullable=False),
    Column("amount", Float, nullable=False),
    Column("occurred_at", DateTime, nullable=False),
    Column("run_id", String(36), nullable=False),
    # Covering index: feature aggregation reads type and amount without touching the table.
    Index(
        "ix_transactions_customer_time_type_amount",
        "customer_id",
        "occurred_at",
        "txn_type",
        "amount",
    ),
)

# Support tickets, upserted on ticket_id when their state changes (updated_at decides).
tickets = Table(
    "tickets",
    metadata,
    Column("ticket_id", String(64), primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("category", String(32), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("resolved_at", DateTime, nullable=True),
    Column("satisfaction", Integer, nullable=True),
    Column("run_id", String(36), nullable=False),
    Index("ix_tickets_customer_id_created_at", "customer_id", "created_at"),
)

# Every exported state of every ticket (natural key ticket_id + updated_at), so the state at a
# past moment — priority, category, status — stays known after ``tickets`` moves on.
ticket_states = Table(
    "ticket_states",
    metadata,
    Column("ticket_id", String(64), primary_key=True),
    Column("updated_at", DateTime, primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("category", String(32), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("resolved_at", DateTime, nullable=True),
    Column("satisfaction", Integer, nullable=True),
    Column("run_id", String(36), nullable=False),
)

ingestion_runs = Table(
    "ingestion_runs",
    metadata,
    Column("run_id", String(36), primary_key=True),
    Column("source", String(64), nullable=False),
    Column("window_start", DateTime, nullable=True),
    Column("window_end", DateTime, nullable=True),
    Column("watermark", DateTime, nullable=True),
    Column("rows_read", Integer, nullable=False, default=0),
    Column("rows_loaded", Integer, nullable=False, default=0),
    Column("rows_quarantined", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False),
    Column("error", Text, nullable=True),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=True),
    Index("ix_ingestion_runs_source_status", "source", "status"),
)

# Rejected rows with their raw payload and every reason; payload_hash makes reruns idempotent.
quarantine = Table(
    "quarantine",
    metadata,
    Column("id", _BIGID, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("run_id", String(36), nullable=False),
    Column("payload_hash", String(64), nullable=False),
    Column("natural_key", String(128), nullable=True),
    Column("raw_payload", Text, nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("quarantined_at", DateTime, nullable=False),
    UniqueConstraint("source", "payload_hash", name="uq_quarantine_source_payload_hash"),
)

# The online store: latest materialized feature vector per (feature view, customer). Values live
# in one JSON document so that a change of feature definitions needs no schema migration;
# definitions_hash pins the set. A declared source's view is its source name; the built-in
# catalog, computed in one pass, is keyed by the names of its views (``BUILTIN_VIEW`` in
# tasks/features/definitions.py) and read by every built-in definition.
online_features = Table(
    "online_features",
    metadata,
    Column("view", String(64), primary_key=True),
    Column("customer_id", String(64), primary_key=True),
    Column("as_of", DateTime, nullable=False),
    Column("definitions_hash", String(64), nullable=False),
    Column("features", Text, nullable=False),
    Column("materialized_at", DateTime, nullable=False),
)

prediction_log = Table(
    "prediction_log",
    metadata,
    Column("id", _BIGID, primary_key=True, autoincrement=True),
    Column("request_id", String(64), nullable=False),
    Column("customer_id", String(64), nullable=True),
    Column("features", Text, nullable=False),
    Column("score", Float, nullable=False),
    Column("model_version", String(32), nullable=False),
    Column("definitions_hash", String(64), nullable=True),
    Column("predicted_at", DateTime, nullable=False),
    # The time the features describe (their materialization as_of); labels are judged from it.
    Column("as_of", DateTime, nullable=True),
    # The registered model that served it (rows from before migration 0010: churn-model).
    Column("model_name", String(128), nullable=False, server_default=DEFAULT_MODEL_NAME),
    # predict (served by id), what_if (/predict_features, left out of monitoring) or backfill
    Column("kind", String(16), nullable=False, server_default="predict"),
    Index("ix_prediction_log_predicted_at", "predicted_at"),
    Index("ix_prediction_log_as_of", "as_of"),
    Index("ix_prediction_log_model_name_predicted_at", "model_name", "predicted_at"),
)

monitoring_metrics = Table(
    "monitoring_metrics",
    metadata,
    Column("id", _BIGID, primary_key=True, autoincrement=True),
    Column("monitor_run_id", String(36), nullable=False),
    Column("metric", String(128), nullable=False),
    Column("value", Float, nullable=True),
    Column("labels", JSON, nullable=True),
    Column("window_start", DateTime, nullable=True),
    Column("window_end", DateTime, nullable=True),
    Column("computed_at", DateTime, nullable=False),
    # The monitored model (rows from before migration 0010: churn-model).
    Column("model_name", String(128), nullable=False, server_default=DEFAULT_MODEL_NAME),
    Index("ix_monitoring_metrics_metric_computed_at", "metric", "computed_at"),
)

# Batch scores a CRM campaign reads: every customer of a model's population scored by its
# champion at ``as_of``. One batch per (model_name, as_of, model_version); a rerun replaces it in
# one transaction.
churn_scores = Table(
    "churn_scores",
    metadata,
    Column("model_name", String(128), primary_key=True),
    Column("as_of", DateTime, primary_key=True),
    Column("model_version", String(32), primary_key=True),
    Column("customer_id", String(64), primary_key=True),
    Column("probability", Float, nullable=False),
    Column("risk_band", String(16), nullable=False),
    # top contributions, largest first: [{"feature": ..., "contribution": ...}, ...]
    Column("reasons", JSON, nullable=False),
    Column("scored_at", DateTime, nullable=False),
    Index("ix_churn_scores_customer_id_as_of", "customer_id", "as_of"),
)

# --- Declared sources (tasks/declared): one namespace per source spec, keyed by ``source`` ---

# A snapshot source: one row per (source, snapshot, id); the typed attributes live in one JSON
# document (keys = normalized column names) so a new spec needs no migration, and the feature
# definitions read them with SQLAlchemy JSON expressions compiled per dialect.
source_snapshots = Table(
    "source_snapshots",
    metadata,
    Column("id", _BIGID, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False),
    Column("snapshot_at", DateTime, nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("label", Integer, nullable=False),
    Column("attributes", JSON, nullable=False),
    Column("run_id", String(36), nullable=False),
    UniqueConstraint(
        "source", "snapshot_at", "customer_id", name="uq_source_snapshots_source_snapshot_id"
    ),
    Index("ix_source_snapshots_source_customer_snapshot", "source", "customer_id", "snapshot_at"),
)

# An event source's log: one row per event; ``customer_id`` is the spec's id column.
source_events = Table(
    "source_events",
    metadata,
    Column("id", _BIGID, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("event_time", DateTime, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("value", Float, nullable=True),
    Column("run_id", String(36), nullable=False),
    Index(
        "ix_source_events_customer_time_type_value",
        "customer_id",
        "event_time",
        "event_type",
        "value",
    ),
    Index("ix_source_events_source", "source"),
)

# An event source's subscriptions: who is a customer when; ended_at NULL = still active.
source_subscriptions = Table(
    "source_subscriptions",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("customer_id", String(64), primary_key=True),
    Column("started_at", DateTime, primary_key=True),
    Column("ended_at", DateTime, nullable=True),
    Column("run_id", String(36), nullable=False),
)

# The contract derived from each declared source's spec and data (column types, categories),
# written at ingest; feature definitions and training read it back. ``spec_path`` and ``spec``
# record the spec file it was ingested from (resolved path, validated document): they lead the
# model ``churn-<source>`` back to its files when it is retrained.
source_schemas = Table(
    "source_schemas",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("contract", JSON, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("spec_path", Text, nullable=True),
    Column("spec", JSON, nullable=True),
)
