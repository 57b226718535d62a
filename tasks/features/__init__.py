"""Feature store: definitions as code, point-in-time retrieval, online materialization + lookup.

Importing this package connects to nothing and reads no file.
"""

from tasks.features.definitions import CATEGORIES, FEATURES, FeatureDef, definitions_hash
from tasks.features.store import (
    MaterializeResult,
    OnlineFeatures,
    StaleFeaturesError,
    data_watermark,
    get_historical_features,
    get_online_features,
    lookup_online_rows,
    materialize,
)

__all__ = [
    "CATEGORIES",
    "FEATURES",
    "FeatureDef",
    "MaterializeResult",
    "OnlineFeatures",
    "StaleFeaturesError",
    "data_watermark",
    "definitions_hash",
    "get_historical_features",
    "get_online_features",
    "lookup_online_rows",
    "materialize",
]
