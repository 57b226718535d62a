"""The cross-process lock that serializes registry promotions."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tasks.registry.locks import registry_lock

NAME = "churn-model"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_registry_lock_excludes_other_holders_until_released(
    backend: str, request: pytest.FixtureRequest, churn_home: Path
) -> None:
    if backend == "postgres":
        uri = request.getfixturevalue("postgres_registry")
    else:
        uri = f"sqlite:///{churn_home / 'mlflow.db'}"
    acquired = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with registry_lock(tracking_uri=uri, name=NAME):
            acquired.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert acquired.wait(30)
    with pytest.raises(TimeoutError), registry_lock(tracking_uri=uri, name=NAME, timeout_s=0.3):
        pass
    release.set()
    holder.join(30)
    with registry_lock(tracking_uri=uri, name=NAME, timeout_s=5):
        pass  # free again once the holder released it


def test_registry_lock_rejects_stores_it_cannot_lock() -> None:
    with (
        pytest.raises(ValueError, match="no cross-process registry lock"),
        registry_lock(tracking_uri="http://127.0.0.1:5000", name=NAME),
    ):
        pass
