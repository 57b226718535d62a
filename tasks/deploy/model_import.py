"""Registry version → BentoML model store: the booster and feature spec, copied once per version.

The BentoML store lives under ``CHURN_HOME/bentoml`` (``BENTOML_HOME``). A version is imported
once; its tag carries the registry version and the run id, so a reset registry never reuses a
model imported from another run. The model name is passed in (default: the built-in
``churn-model``); for a declared source's ``churn-<name>`` its source name (version tag
``source.name``) and feature types (run artifact) go into the metadata too.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from core.names import (
    SOURCE_DTYPES_ARTIFACT,
    TAG_DEFINITIONS_HASH,
    TAG_SOURCE,
)
from core.settings import get_settings

if TYPE_CHECKING:
    from bentoml._internal.models import ModelStore

log = logging.getLogger(__name__)


class DeployError(RuntimeError):
    """A version cannot be baked or served as asked (no champion, a failed build): the message
    says what to do."""


@dataclass(frozen=True)
class ImportedModel:
    """A registry version in the BentoML model store."""

    tag: str
    model_name: str
    model_version: str
    run_id: str
    definitions_hash: str
    source: str | None = None  # a declared source's name; None: the built-in sources


def use_bentoml_home() -> str:
    """Point BentoML at ``CHURN_HOME/bentoml`` (before bentoml is first imported); return it."""
    home = str(get_settings().bentoml_home)
    os.environ["BENTOML_HOME"] = home
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")
    return home


def registry_client() -> MlflowClient:
    uri = get_settings().mlflow_tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def model_store() -> ModelStore:
    """The BentoML model store under CHURN_HOME (explicit: BentoML caches its default store)."""
    from bentoml._internal.models import ModelStore

    use_bentoml_home()
    return ModelStore(get_settings().bentoml_home / "models")


def import_model(model_version: str, *, model_name: str | None = None) -> ImportedModel:
    """Copy version ``model_version`` of ``model_name`` (default: the built-in model) into the
    BentoML model store (idempotent)."""
    store = model_store()
    import bentoml
    import mlflow
    from bentoml.exceptions import NotFound

    settings = get_settings()
    name = model_name or settings.model_name
    version = registry_client().get_model_version(name, str(model_version))
    run_id = str(version.run_id)
    tag = f"{name}:v{version.version}-{run_id[:12]}"
    try:
        stored = bentoml.models.get(tag, _model_store=store)
        log.info("BentoML model %s already imported", stored.tag)
        meta = stored.info.metadata
        return ImportedModel(
            tag,
            name,
            str(version.version),
            run_id,
            str(meta["definitions_hash"]),
            str(meta["source"]) if meta.get("source") else None,
        )
    except NotFound:
        pass
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_tracking_uri)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/{version.version}")
    churn = pyfunc.unwrap_python_model()
    spec = churn.spec
    tagged_hash = version.tags.get(TAG_DEFINITIONS_HASH)
    if tagged_hash is not None and tagged_hash != spec.definitions_hash:
        raise ValueError(
            f"{name} v{version.version}: tag {TAG_DEFINITIONS_HASH}={tagged_hash[:12]} but the "
            f"model's feature spec says {spec.definitions_hash[:12]}; the registry is inconsistent"
        )
    metadata: dict[str, Any] = {
        "model_name": name,
        "model_version": str(version.version),
        "run_id": run_id,
        "definitions_hash": spec.definitions_hash,
    }
    source = version.tags.get(TAG_SOURCE)
    if source:
        metadata["source"] = source
        metadata["feature_dtypes"] = source_dtypes(run_id, list(spec.names), name=name)
        bounds = source_bounds(run_id, source, list(spec.names))
        if bounds is not None:
            metadata["feature_bounds"] = json.dumps(bounds)  # BentoML metadata holds no None
    labels = {"model_version": str(version.version), "run_id": run_id[:12]}
    with bentoml.models.create(tag, labels=labels, metadata=metadata, _model_store=store) as model:
        churn.booster.save_model(model.path_of("booster.json"))
        with open(model.path_of("feature_spec.json"), "w", encoding="utf-8") as fh:
            json.dump(spec.to_dict(), fh, indent=2)
    log.info("imported %s v%s (run %s) into BentoML as %s", name, version.version, run_id, tag)
    return ImportedModel(tag, name, str(version.version), run_id, spec.definitions_hash, source)


def source_dtypes(run_id: str, names: list[str], *, name: str) -> dict[str, str]:
    """The declared source's feature types logged with run ``run_id``, in the model's order."""
    import mlflow

    try:
        dtypes = mlflow.artifacts.load_dict(f"runs:/{run_id}/{SOURCE_DTYPES_ARTIFACT}")
    except (MlflowException, OSError) as exc:
        raise ValueError(
            f"{name} run {run_id}: no {SOURCE_DTYPES_ARTIFACT} (the source's feature types);"
            " retrain it with `make declare` to serve it"
        ) from exc
    if sorted(dtypes) != sorted(names):
        raise ValueError(
            f"{name} run {run_id}: {SOURCE_DTYPES_ARTIFACT} names {sorted(dtypes)}, the model"
            f" takes {sorted(names)}; the run is inconsistent"
        )
    return {n: str(dtypes[n]) for n in names}


def source_bounds(
    run_id: str, source: str, names: list[str]
) -> dict[str, list[float | None]] | None:
    """The valid range of each of the declared source's features (``FeatureDef.valid_range``),
    rebuilt from the contract run ``run_id`` kept; None for a run from before contracts were
    kept (its bento checks counts and finiteness only)."""
    from tasks.declared.features import source_definition
    from tasks.modeldata.declared import run_contract

    kept = run_contract(registry_client(), run_id)
    if kept is None:
        return None
    ranges = {fd.name: list(fd.valid_range) for fd in source_definition(source, *kept).features}
    return {n: ranges.get(n, [None, None]) for n in names}
