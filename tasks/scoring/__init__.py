"""Batch scoring: every active customer scored by the champion into ``churn_scores``.

Importing this package connects to nothing and reads no file.
"""

from tasks.scoring.batch import (
    ChampionModel,
    ScoreBatch,
    load_champion,
    read_active_customer_ids,
    score_customers,
    score_frame,
    write_scores,
)

__all__ = [
    "ChampionModel",
    "ScoreBatch",
    "load_champion",
    "read_active_customer_ids",
    "score_customers",
    "score_frame",
    "write_scores",
]
