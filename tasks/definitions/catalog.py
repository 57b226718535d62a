"""The built-in churn definitions: the simulator's CRM, billing and helpdesk exports, declared with
the same objects as a team's own data.

``churn-model`` (the horizon of the settings, 30 days by default) and ``churn-model-90d`` share
every feature view: one feature computation and one set of online rows serve both models.
"""

from __future__ import annotations

from tasks.definitions.objects import ChurnDefinition, Entity, FeatureView, Source
from tasks.features.catalog.billing import BILLING_FEATURES
from tasks.features.catalog.crm import CRM_FEATURES
from tasks.features.catalog.helpdesk import HELPDESK_FEATURES
from tasks.features.definitions import CATEGORIES

CUSTOMER = Entity("customer", "customer_id")

CRM = Source("crm", "attributes", "customers", "CRM export: SCD2 versions of each customer")
BILLING = Source("billing", "events", "transactions", "billing events: charges, payments, refunds")
HELPDESK = Source("helpdesk", "records", "tickets", "support tickets and their state history")
LIFECYCLE = Source("lifecycle", "lifecycle", "customers", "signup and cancellation dates (labels)")

CRM_VIEW = FeatureView(
    "crm",
    CRM,
    CRM_FEATURES,
    {k: v for k, v in CATEGORIES.items() if k in {f.name for f in CRM_FEATURES}},
)
BILLING_VIEW = FeatureView("billing", BILLING, BILLING_FEATURES)
HELPDESK_VIEW = FeatureView("helpdesk", HELPDESK, HELPDESK_FEATURES)
VIEWS = (CRM_VIEW, BILLING_VIEW, HELPDESK_VIEW)
SOURCES = (CRM, BILLING, HELPDESK, LIFECYCLE)
# Risk may only rise with failed payments: the model must not learn the opposite from noise.
MONOTONE = {"failed_payments_30d": 1, "failed_payments_90d": 1}
LABEL = "cancellation (customers.cancel_date) within (as_of, as_of + horizon]"


def builtin_definition(name: str, horizon_days: int) -> ChurnDefinition:
    """The built-in sources and views under model ``name`` at ``horizon_days``."""
    return ChurnDefinition(
        name=name,
        entity=CUSTOMER,
        sources=SOURCES,
        views=VIEWS,
        label=LABEL,
        horizon_days=horizon_days,
        monotone=MONOTONE,
    )
