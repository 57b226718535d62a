"""The feature store's public interface: point-in-time retrieval for training, materialization
and primary-key lookup for serving, one online store keyed by (view, customer). One set of
definitions feeds both paths."""

from __future__ import annotations

from tasks.features.lookup import (
    OnlineFeatures,
    OnlineStoreStatus,
    OnlineView,
    StaleFeaturesError,
    builtin_view,
    describe_online_store,
    get_online_features,
    lookup_online_rows,
    online_customer_ids,
)
from tasks.features.online import MaterializeResult, materialize, materialize_view
from tasks.features.population import active_customer_ids, data_watermark
from tasks.features.retrieval import get_historical_features

__all__ = [
    "MaterializeResult",
    "OnlineFeatures",
    "OnlineStoreStatus",
    "OnlineView",
    "StaleFeaturesError",
    "active_customer_ids",
    "builtin_view",
    "data_watermark",
    "describe_online_store",
    "get_historical_features",
    "get_online_features",
    "lookup_online_rows",
    "materialize",
    "materialize_view",
    "online_customer_ids",
]
