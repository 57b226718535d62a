"""Simulation parameters and the source systems' enumerations.

Month numbers in the scenarios (``drift_month``, ``format_change_month``) are 1-based: month 1 is
the month of ``start``, month ``months`` the last simulated one.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, model_validator

PLANS = ("basic", "standard", "premium")
CONTRACTS = ("month-to-month", "one-year", "two-year")
PAYMENT_METHODS = ("credit_card", "bank_transfer", "electronic_check", "mailed_check")
REGIONS = ("north", "south", "east", "west")
STATUSES = ("active", "cancelled")
EVENT_TYPES = ("charge", "payment", "refund", "failed_payment")
CATEGORIES = ("billing", "technical", "account", "cancellation")
PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_STATUSES = ("open", "resolved")

# List prices in cents; a customer's own price is the list price times a personal factor.
PLAN_PRICE_CENTS = (2999, 5499, 8999)
# Metered usage fee per usage unit, in cents, by plan.
USAGE_RATE_CENTS = (45.0, 40.0, 35.0)
MAX_PRICE_CENTS = 99_999  # CRM contract: 0 < monthly_charges < 1000

CRM_COLUMNS = (
    "customer_id",
    "signup_date",
    "plan",
    "contract",
    "payment_method",
    "region",
    "monthly_charges",
    "status",
    "cancel_date",
    "updated_at",
)
CRM_RENAMED_CHARGES = "monthly_fee"
BILLING_COLUMNS = (
    "id",
    "txn_ref",
    "account_id",
    "event_type",
    "amount_cents",
    "currency",
    "created_at",
)
HELPDESK_FIELDS = (
    "ticket_id",
    "customer_id",
    "created_at",
    "updated_at",
    "status",
    "category",
    "priority",
    "resolved_at",
    "satisfaction",
)


class SimConfig(BaseModel):
    """Everything that determines a simulation; equal configs give byte-identical output."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customers: int = Field(default=5000, ge=10, le=2_000_000, description="initial customer base")
    months: int = Field(default=18, ge=1, le=120, description="months to simulate")
    start: dt.date = Field(default=dt.date(2024, 1, 1), description="first day of month 1")
    seed: int = Field(default=42, ge=0)
    signup_rate: float = Field(
        default=0.04,
        ge=0.0,
        le=0.5,
        description="new signups per month, as a share of the active base",
    )
    drift_month: int | None = Field(
        default=None, ge=1, description="1-based month of a price shock (None: no shock)"
    )
    drift_price_increase: float = Field(default=0.25, gt=0.0, le=2.0)
    drift_share: float = Field(
        default=0.4, gt=0.0, le=1.0, description="share of active customers hit"
    )
    format_change_month: int | None = Field(
        default=None, ge=1, description="1-based month from which CRM exports say monthly_fee"
    )
    dirty_rate: float = Field(
        default=0.003, ge=0.0, le=0.2, description="invalid rows per source row"
    )
    duplicate_rate: float = Field(
        default=0.004, ge=0.0, le=0.2, description="billing events written twice (same txn_ref)"
    )

    @model_validator(mode="after")
    def _check(self) -> SimConfig:
        if self.start.day != 1:
            raise ValueError("start must be the first day of a month")
        for name in ("drift_month", "format_change_month"):
            value = getattr(self, name)
            if value is not None and value > self.months:
                raise ValueError(f"{name}={value} is after the last month ({self.months})")
        return self
