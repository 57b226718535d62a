"""A model version's logged file that cannot be read, named with its file and its version.

A truncated or malformed artifact reads the same way on every attempt: ``ArtifactError`` is never
retried (``tasks.retries.is_transient`` says so), and the fix is another version — a retrained
one, or the previous champion.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from mlflow import MlflowClient

T = TypeVar("T")


class ArtifactError(Exception):
    """The artifact ``path`` of ``model`` version ``version`` is missing or unreadable."""

    def __init__(self, path: str, *, model: str, version: str, reason: str) -> None:
        self.path, self.model, self.version, self.reason = path, model, version, reason
        super().__init__(
            f"{model} v{version}: cannot read its artifact {path} ({reason}); retrain {model} to "
            "register a new version, or move its champion back to another one"
        )


def read_artifact(
    client: MlflowClient,
    run_id: str,
    artifact: str,
    local: str,
    read: Callable[[Path], T],
    *,
    model: str,
    version: str,
) -> T:
    """``read`` the downloaded copy ``local`` of the run's ``artifact``; a file that does not
    parse (a ValueError: bad JSON, a broken Parquet file) is an ``ArtifactError`` naming the
    artifact where the store keeps it."""
    from pyarrow import ArrowException

    try:
        return read(Path(local))
    except (ValueError, ArrowException) as exc:
        where = f"{client.get_run(run_id).info.artifact_uri}/{artifact}"
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ArtifactError(where, model=model, version=version, reason=reason) from exc
