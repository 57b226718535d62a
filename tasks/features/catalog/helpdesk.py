"""Helpdesk features. ``tickets`` holds each ticket's newest state, so whether it is open at
as_of is derived from event times (visible once created, open until resolved_at, rated only once
resolved) and the stored ``status`` is never read. Priority and category can change too: they are
read from ``ticket_states`` as they were at as_of (the earliest known state for a ticket whose
first export came later; the ``tickets`` row for one loaded without states, e.g. by hand)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_

from core.tables import ticket_states, tickets
from tasks.features.entity import AS_OF, state_at_as_of, window_start
from tasks.features.spec import Aggregate, Dtype, FeatureDef
from tasks.features.sql import days_between

K = tickets.c
_OPEN_AT_AS_OF = or_(K.resolved_at.is_(None), K.resolved_at > AS_OF)


_PRIORITY = state_at_as_of(
    tickets, ticket_states, key="ticket_id", time="updated_at", column="priority"
)
_CATEGORY = state_at_as_of(
    tickets, ticket_states, key="ticket_id", time="updated_at", column="category"
)


def _tkt(name: str, aggregate: Aggregate, description: str, **kw: Any) -> FeatureDef:
    dtype: Dtype = kw.pop("dtype", "int" if aggregate == "count" else "float")
    return FeatureDef(name, dtype, description, tickets, aggregate, **kw)


_URGENT = _PRIORITY == "urgent"
HELPDESK_FEATURES: tuple[FeatureDef, ...] = (
    _tkt("tickets_30d", "count", "Tickets opened in 30 days.", window_days=30),
    _tkt("tickets_90d", "count", "Tickets opened in 90 days.", window_days=90),
    _tkt(
        "open_tickets",
        "count",
        "Tickets open at as_of (created, not yet resolved).",
        filter=_OPEN_AT_AS_OF,
    ),
    _tkt(
        "open_urgent_tickets",
        "count",
        "Urgent or high-priority tickets open at as_of.",
        filter=_OPEN_AT_AS_OF & _PRIORITY.in_(("urgent", "high")),
    ),
    _tkt(
        "open_tickets_over_7d",
        "count",
        "Tickets open at as_of that were opened more than 7 days before.",
        filter=_OPEN_AT_AS_OF & (K.created_at <= window_start(7)),
    ),
    _tkt(
        "oldest_open_ticket_days",
        "days_since_first",
        "Age in days of the oldest ticket open at as_of (NaN if none).",
        filter=_OPEN_AT_AS_OF,
    ),
    _tkt(
        "urgent_tickets_90d",
        "count",
        "Urgent tickets opened in 90 days.",
        filter=_URGENT,
        window_days=90,
    ),
    _tkt(
        "cancellation_tickets_90d",
        "count",
        "Cancellation-category tickets opened in 90 days.",
        filter=_CATEGORY == "cancellation",
        window_days=90,
    ),
    _tkt(
        "billing_tickets_90d",
        "count",
        "Billing-category tickets opened in 90 days.",
        filter=_CATEGORY == "billing",
        window_days=90,
    ),
    _tkt(
        "mean_satisfaction_90d",
        "avg",
        "Mean satisfaction (1-5) of tickets resolved in 90 days (NaN if none rated).",
        value=K.satisfaction,
        event_time=K.resolved_at,
        window_days=90,
        ge=1.0,
        le=5.0,
    ),
    _tkt(
        "min_satisfaction_180d",
        "min",
        "Lowest satisfaction of tickets resolved in 180 days.",
        value=K.satisfaction,
        event_time=K.resolved_at,
        window_days=180,
        ge=1.0,
        le=5.0,
    ),
    _tkt(
        "low_satisfaction_tickets_30d",
        "count",
        "Tickets resolved in 30 days rated 1 or 2.",
        filter=K.satisfaction <= 2,
        event_time=K.resolved_at,
        window_days=30,
    ),
    _tkt(
        "low_satisfaction_tickets_90d",
        "count",
        "Tickets resolved in 90 days rated 1 or 2.",
        filter=K.satisfaction <= 2,
        event_time=K.resolved_at,
        window_days=90,
    ),
    _tkt(
        "mean_resolution_hours_90d",
        "avg",
        "Mean hours from creation to resolution of tickets resolved in 90 days.",
        value=days_between(K.resolved_at, K.created_at) * 24.0,
        event_time=K.resolved_at,
        window_days=90,
        ge=0.0,
    ),
    _tkt(
        "days_since_last_ticket",
        "days_since_last",
        "Days since the last ticket was opened (NaN if none).",
    ),
)
