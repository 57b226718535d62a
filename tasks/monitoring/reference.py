"""The champion's reference: the rows its drift is measured against, and their profile.

Training logs ``reference/holdout.parquet`` (features, label, score) and ``reference/profile.json``
(see :func:`log_reference_profile`). The holdout is the latest cutoff whose label horizon has
elapsed: one to two months older than the data the version is promoted on, so after a shift a
version trained on the shifted data would still be measured against rows from before it, and
drift would stay flagged (and retrains be requested every cooldown) for months. So a promotion
also logs ``reference/promoted.parquet`` and ``reference/promoted_profile.json``: the population's
features as the promotion found them, scored by the version (:func:`log_promoted_reference`); the
champion is measured against those when they exist, else against its holdout. A model version
logged before profiles existed gets its profile computed from the holdout here, once per
monitoring run, with a log line saying so. A logged file that does not parse (truncated,
malformed) is an ``ArtifactError`` naming the file and the version: never a profile computed in
its place, never retried.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from core.names import CHAMPION, REFERENCE_ARTIFACT, TAG_DEFINITIONS_HASH
from core.settings import get_settings
from core.tmp import temporary_directory
from models.preprocessing import FeatureSpec
from models.signature import SCORE_COLUMN
from monitoring.profile import Profile, build_profile
from tasks.artifacts import read_artifact
from tasks.monitoring.data import CATEGORICAL, NUMERIC, split_columns
from tasks.retries import is_transient

log = logging.getLogger(__name__)
T = TypeVar("T")
PROFILE_ARTIFACT = "reference/profile.json"
PROMOTED_REFERENCE = "reference/promoted.parquet"
PROMOTED_PROFILE = "reference/promoted_profile.json"


def reference_profile(
    reference: pd.DataFrame,
    *,
    meta: dict[str, Any] | None = None,
    spec: FeatureSpec | None = None,
    dtypes: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Drift profile of a scored reference frame: every feature (of ``spec`` or ``dtypes``,
    default the built-in definitions) plus the score."""
    if dtypes is not None:
        numeric_names, categorical_names = split_columns(dtypes)
    elif spec is None:
        numeric_names, categorical_names = NUMERIC, CATEGORICAL
    else:
        categorical_names = [n for n in spec.names if n in spec.categories]
        numeric_names = [n for n in spec.names if n not in spec.categories]
    numeric = [n for n in numeric_names if n in reference.columns]
    categorical = [n for n in categorical_names if n in reference.columns]
    if SCORE_COLUMN in reference.columns:
        numeric.append(SCORE_COLUMN)
    return build_profile(reference, numeric=numeric, categorical=categorical, meta=meta)


def log_reference_profile(reference: pd.DataFrame, *, spec: FeatureSpec | None = None) -> None:
    """Inside an active MLflow run: log the reference's drift profile next to its holdout."""
    mlflow.log_dict(reference_profile(reference, spec=spec), PROFILE_ARTIFACT)


@dataclass(frozen=True)
class ChampionReference:
    """The champion version, its run, its scored holdout and its drift profile."""

    model_name: str
    version: str
    run_id: str
    frame: pd.DataFrame
    profile: Profile
    profile_source: str  # "promoted", "logged" (the holdout's) or "computed"
    definitions_hash: str | None = None  # the version's tag; None: registered without one


def client() -> MlflowClient:
    uri = get_settings().mlflow_tracking_uri
    mlflow.set_tracking_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def load_champion_reference(
    model_name: str, *, dtypes: Mapping[str, str] | None = None
) -> ChampionReference:
    """Download the champion's reference artifacts: the promotion's, else the holdout's; compute
    the holdout's profile (over ``dtypes``' features, default the built-in ones) if none was
    logged."""
    name = model_name
    mlflow_client = client()
    try:
        version = mlflow_client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException as exc:
        if is_transient(exc):
            raise  # the store did not answer: that, not a missing champion
        raise RuntimeError(
            f"no {CHAMPION!r} version of model {name!r} in {get_settings().mlflow_tracking_uri};"
            " run the train flow (python -m flows.train; a declared source's churn-<name>:"
            " make declare SPEC=...) first"
        ) from exc
    run_id = str(version.run_id)
    of_version = {"model": name, "version": str(version.version)}
    logged = {f.path for f in mlflow_client.list_artifacts(run_id, "reference")}
    with temporary_directory("churn-monitor-") as tmp:

        def read(artifact: str, reader: Callable[[Path], T]) -> T:
            local = mlflow_client.download_artifacts(run_id, artifact, tmp)
            return read_artifact(mlflow_client, run_id, artifact, local, reader, **of_version)

        if {PROMOTED_REFERENCE, PROMOTED_PROFILE} <= logged:
            frame = read(PROMOTED_REFERENCE, pd.read_parquet)
            profile, source = read(PROMOTED_PROFILE, _read_json), "promoted"
        else:
            frame = read(REFERENCE_ARTIFACT, pd.read_parquet)
            if PROFILE_ARTIFACT in logged:
                profile, source = read(PROFILE_ARTIFACT, _read_json), "logged"
            else:
                log.info(
                    "model %s v%s has no %s; computing the drift profile from %s",
                    name, version.version, PROFILE_ARTIFACT, REFERENCE_ARTIFACT,
                )  # fmt: skip
                profile, source = reference_profile(frame, dtypes=dtypes), "computed"
    digest = version.tags.get(TAG_DEFINITIONS_HASH)
    return ChampionReference(
        name, str(version.version), run_id, frame, Profile(profile), source, digest
    )


def log_promoted_reference(
    model_name: str, version: str, frame: pd.DataFrame, *, dtypes: Mapping[str, str]
) -> dict[str, Any]:
    """Log ``frame`` (features and score of the population when ``version`` was promoted) and
    its drift profile over ``dtypes``' features on the version's run; return the profile."""
    mlflow_client = client()
    run_id = str(mlflow_client.get_model_version(model_name, version).run_id)
    profile = reference_profile(frame, dtypes=dtypes, meta={"version": version})
    with temporary_directory("churn-reference-") as tmp:
        rows, document = Path(tmp) / Path(PROMOTED_REFERENCE).name, Path(tmp) / "profile"
        frame.to_parquet(rows, index=False)
        document.mkdir()
        (document / Path(PROMOTED_PROFILE).name).write_text(json.dumps(profile), encoding="utf-8")
        # the profile last: a reader uses the pair only once both are there
        mlflow_client.log_artifact(run_id, str(rows), str(Path(PROMOTED_REFERENCE).parent))
        mlflow_client.log_artifact(
            run_id, str(document / Path(PROMOTED_PROFILE).name), str(Path(PROMOTED_PROFILE).parent)
        )
    return profile


def _read_json(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def last_retrain_time(model_name: str) -> Any:
    """When the newest registered version of the model was made, naive UTC, or None: its gate's
    decision time (``gate.decided_at``, taken from ``core.names.utc_now``, so a replay's cooldown
    counts simulated time), else the version's creation time in the registry (wall clock)."""
    from datetime import UTC, datetime

    from core.names import TAG_GATE_DECIDED_AT

    versions = client().search_model_versions(f"name = '{model_name}'")
    if not versions:
        return None
    newest = max(versions, key=lambda v: int(v.version))
    decided = (newest.tags or {}).get(TAG_GATE_DECIDED_AT)
    if decided:
        return datetime.fromisoformat(decided)
    created = int(newest.creation_timestamp)
    return datetime.fromtimestamp(created / 1000, tz=UTC).replace(tzinfo=None)
