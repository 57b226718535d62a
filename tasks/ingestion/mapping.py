"""Column mappings: load a foreign customer table (e.g. the IBM Telco churn dataset) as CRM data.

A mapping renames columns, translates values, fills constants, and derives the CRM fields a
snapshot table lacks: ``signup_date`` from tenure months before the snapshot date, and
``status``/``cancel_date`` from a churn flag. Its output is CRM-layout text, so the CRM contract
checks it like any export. See docs/ingestion.md for the Telco mapping column by column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

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


@dataclass(frozen=True)
class ColumnMapping:
    """How a snapshot export of customer attributes maps onto the CRM contract."""

    name: str
    pattern: str
    snapshot_date: date
    renames: Mapping[str, str]
    value_maps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    constants: Mapping[str, str] = field(default_factory=dict)
    tenure_column: str | None = None
    churn_column: str | None = None
    churn_values: tuple[str, ...] = ("Yes",)
    stay_values: tuple[str, ...] = ("No",)
    contract_changes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def source_columns(self) -> list[str]:
        """Columns the export must have for this mapping to work."""
        extra = [c for c in (self.tenure_column, self.churn_column) if c]
        return [*self.renames, *extra]

    @property
    def period(self) -> datetime:
        """The snapshot date as the export's watermark period."""
        return datetime.combine(self.snapshot_date, datetime.min.time())


def apply_mapping(raw: pd.DataFrame, mapping: ColumnMapping) -> pd.DataFrame:
    """Translate ``raw`` (text columns of the export) into CRM-layout text, index preserved."""
    out = pd.DataFrame(index=raw.index)
    for source_column, crm_column in mapping.renames.items():
        values = raw[source_column]
        translation = mapping.value_maps.get(crm_column)
        if translation:
            # Unknown values pass through untranslated so the contract quarantines them by name.
            values = values.map(dict(translation)).where(values.isin(list(translation)), values)
        out[crm_column] = values
    for crm_column, constant in mapping.constants.items():
        out[crm_column] = constant
    snapshot = mapping.snapshot_date.isoformat()
    if mapping.tenure_column:
        out["signup_date"] = _signup_from_tenure(raw[mapping.tenure_column], mapping.snapshot_date)
    if mapping.churn_column:
        flag = raw[mapping.churn_column].str.strip()
        churned = flag.isin(mapping.churn_values)
        stayed = flag.isin(mapping.stay_values)
        out["status"] = np.where(churned, "cancelled", np.where(stayed, "active", flag))
        out["cancel_date"] = np.where(churned, snapshot, "")
    out["updated_at"] = f"{snapshot}T00:00:00"
    missing = [c for c in CRM_COLUMNS if c not in out.columns]
    if missing:
        raise ValueError(f"mapping {mapping.name} leaves CRM column(s) {missing} unset")
    return out[list(CRM_COLUMNS)]


def _signup_from_tenure(tenure: pd.Series, snapshot: date) -> pd.Series:
    """First day of the month ``tenure`` months before the snapshot month (text ``YYYY-MM-DD``).

    A tenure that is not a whole number of months is passed through as-is, so the contract
    reports it (as ``signup_date``) with the offending value.
    """
    months = pd.to_numeric(tenure, errors="coerce")
    whole = months.notna() & (months % 1 == 0)
    base = snapshot.year * 12 + snapshot.month - 1
    start = base - months.where(whole, 0).astype("int64").to_numpy() - 1970 * 12
    first_days = start.astype("datetime64[M]").astype("datetime64[D]")
    text = pd.Series(np.datetime_as_string(first_days), index=tenure.index, dtype=object)
    return text.where(whole, tenure)


def telco_mapping(snapshot_date: date, pattern: str = "telco/*.csv") -> ColumnMapping:
    """The IBM Telco customer-churn CSV (customerID, tenure, Contract, …, Churn) as CRM data."""
    return ColumnMapping(
        name="telco",
        pattern=pattern,
        snapshot_date=snapshot_date,
        renames={
            "customerID": "customer_id",
            "InternetService": "plan",
            "Contract": "contract",
            "PaymentMethod": "payment_method",
            "MonthlyCharges": "monthly_charges",
        },
        value_maps={
            "plan": {"No": "basic", "DSL": "standard", "Fiber optic": "premium"},
            "contract": {
                "Month-to-month": "month-to-month",
                "One year": "one-year",
                "Two year": "two-year",
            },
            "payment_method": {
                "Credit card (automatic)": "credit_card",
                "Bank transfer (automatic)": "bank_transfer",
                "Electronic check": "electronic_check",
                "Mailed check": "mailed_check",
            },
        },
        constants={"region": "unknown"},
        tenure_column="tenure",
        churn_column="Churn",
        contract_changes={
            "customer_id": {"pattern": r"\d{4}-[A-Z]{5}"},
            "region": {"allowed": ("north", "south", "east", "west", "unknown")},
        },
    )
