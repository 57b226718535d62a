"""The model a bento was built for: written into the bento at build time, read at start.

``tasks.deploy.build_bento`` imports a registry version into the BentoML model store and writes
``bentos/bento_model.json`` (the model's BentoML tag) into the bento's build context, so a bento
always serves the version it was built with and never asks the registry at run time. A declared
source's model (``churn-<name>``) also carries its source name and its features' types, from which
the service builds its lookup and its feature record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BAKED_FILE = Path(__file__).with_name("bento_model.json")


@dataclass(frozen=True)
class BakedModel:
    """Where the bento's model lives and which registry version it is."""

    tag: str
    model_name: str
    model_version: str
    run_id: str
    definitions_hash: str
    path: Path
    source: str | None = None  # a declared source's name; None: the built-in sources
    feature_dtypes: dict[str, str] | None = None  # a declared source's {feature: dtype}
    # a declared source's {feature: (lowest, highest)} valid values (None: unbounded / unknown)
    feature_bounds: dict[str, tuple[float | None, float | None]] | None = None


def baked_document(*, tag: str) -> dict[str, Any]:
    """The content of ``bento_model.json`` for a BentoML model tag."""
    return {"model_tag": tag}


def load_baked(file: Path = BAKED_FILE) -> BakedModel:
    """Resolve the baked model tag in the (bento's) BentoML model store."""
    import bentoml

    if not file.exists():
        raise RuntimeError(
            f"{file} is missing: this service runs from a bento built by `make bento` "
            "(tasks.deploy.build_bento), which bakes the champion model into it"
        )
    tag = json.loads(file.read_text(encoding="utf-8"))["model_tag"]
    model = bentoml.models.get(tag)
    meta = model.info.metadata
    return BakedModel(
        tag=str(model.tag),
        model_name=str(meta["model_name"]),
        model_version=str(meta["model_version"]),
        run_id=str(meta["run_id"]),
        definitions_hash=str(meta["definitions_hash"]),
        path=Path(model.path),
        source=str(meta["source"]) if meta.get("source") else None,
        feature_dtypes=_dtypes(meta.get("feature_dtypes")),
        feature_bounds=_bounds(meta.get("feature_bounds")),
    )


def _dtypes(value: Any) -> dict[str, str] | None:
    return {str(k): str(v) for k, v in value.items()} if value else None


def _bounds(value: Any) -> dict[str, tuple[float | None, float | None]] | None:
    """The ``feature_bounds`` metadata (JSON text: ``{feature: [lowest, highest]}``)."""
    if not value:
        return None
    if isinstance(value, str):
        value = json.loads(value)
    return {
        str(k): (None if lo is None else float(lo), None if hi is None else float(hi))
        for k, (lo, hi) in value.items()
    }
