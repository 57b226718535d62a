"""Names shared across modules: registry aliases, MLflow tag keys, artifact paths, the clock.

Every module that talks about the champion, a tag or the reference data imports it from here
instead of retyping the string, so a rename is one edit.
"""

from __future__ import annotations

from datetime import UTC, datetime

from core.clock import simulated_now, wall_now

DEFAULT_MODEL_NAME = "churn-model"
# The gate: a candidate trained on the same data as the champion must beat it by this much.
DEFAULT_MIN_GAIN = 0.002
# The gate: a first model's holdout AUC must reach a logistic regression's on the same split plus
# this much; negative: it may trail it by that much. On par is enough by default: XGBoost does
# not reliably beat the baseline on logistic-shaped tables (measured: README, "The gate").
DEFAULT_MIN_BASELINE_GAIN = -0.01
# The first-model floor of versions registered before baselines were recorded (and the former
# default of min_auc): a version with no baseline figure is held to it unless min_auc is given.
LEGACY_MIN_AUC = 0.75
# Training uses the latest N elapsed monthly cutoffs by default: a year.
DEFAULT_MAX_CUTOFFS = 12

# Registry aliases.
CHAMPION = "champion"
CHALLENGER = "challenger"

# Model-version / run tag keys.
TAG_DEFINITIONS_HASH = "features.definitions_hash"
TAG_WINDOW_START = "data.window_start"
TAG_WINDOW_END = "data.window_end"
TAG_CUTOFFS_TRAIN = "cutoffs.train"
TAG_CUTOFFS_VALIDATION = "cutoffs.validation"
TAG_CUTOFFS_HOLDOUT = "cutoffs.holdout"
TAG_CUTOFFS_PURGED = "cutoffs.purged"
TAG_HORIZON_DAYS = "horizon_days"
# The latest moment a model's training or validation labels looked at (last validation cutoff
# + horizon): a fair holdout for re-scoring that model starts at or after it.
TAG_TRAINED_THROUGH = "data.trained_through"
# A snapshot model's training rows (no time separates them from a later holdout): the run
# artifact holding their customer ids, which the gate leaves out when it re-scores the version.
TAG_TRAINING_IDS = "data.training_ids"
TRAINING_IDS_ARTIFACT = "data/training_ids.parquet"
# The holdout ROC-AUC of the logistic baseline fitted on the version's own training rows.
TAG_BASELINE_AUC = "baseline.roc_auc"
TAG_GATE_DECISION = "gate.decision"
TAG_GATE_REASON = "gate.reason"
TAG_CHAMPION_SEQ = "champion.seq"
TAG_CHAMPION_PROMOTED_AT = "champion.promoted_at"
TAG_GATE_DECIDED_AT = "gate.decided_at"
TAG_ROLLED_BACK_AT = "champion.rolled_back_at"
TAG_ROLLED_BACK_TO = "champion.rolled_back_to"
TAG_ROLLBACK_REASON = "champion.rollback_reason"
TAG_RESTORED_AT = "champion.restored_at"
# A declared source's model (``churn-<name>``): the spec's name and kind, on its run and version.
TAG_SOURCE = "source.name"
TAG_SOURCE_KIND = "source.kind"

# Run artifacts.
REFERENCE_ARTIFACT = "reference/holdout.parquet"
# A declared source's feature types ({name: "float" | "int" | "category"}): serving builds the
# source's feature record from them.
SOURCE_DTYPES_ARTIFACT = "source/feature_dtypes.json"
# The stored contract a declared source's version was trained on ({"kind", "contract"}): its
# champion's features are rebuilt from it (monitoring, batch scores) after a reload changed the
# source's contract but the gate kept the champion.
SOURCE_CONTRACT_ARTIFACT = "source/contract.json"


def artifact_key(base: str, model_name: str) -> str:
    """A Prefect artifact key per model (keys allow lower-case letters, digits and dashes):
    ``base`` for the built-in model, ``base-churn-<name>`` for a declared source's."""
    if model_name == DEFAULT_MODEL_NAME:
        return base
    return f"{base}-{model_name}".replace("_", "-").lower()


def utc_now() -> datetime:
    """Current time as naive UTC, the project's one time convention inside the boundary: the
    simulated time of a replay when this home's clock file says so (``core.clock``)."""
    return simulated_now() or wall_now()


def to_naive_utc(value: datetime) -> datetime:
    """Convert an aware datetime to naive UTC; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)
