"""Batch scoring: every customer of a model's population scored by its champion into
``churn_scores``.

Importing this package connects to nothing and reads no file.
"""

from tasks.scoring.batch import (
    ChampionModel,
    ScoreBatch,
    load_champion,
    score_customers,
    score_frame,
    write_scores,
)

__all__ = [
    "ChampionModel",
    "ScoreBatch",
    "load_champion",
    "score_customers",
    "score_frame",
    "write_scores",
]
