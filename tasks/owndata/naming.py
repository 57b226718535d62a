"""Run the tracking, registry and deploy functions for a declared source's model, ``churn-<name>``.

``tasks.training.tracking`` (the experiment), ``tasks.registry`` (register, gate, rollback) and
``tasks.deploy`` (champion, model import) read the model name from settings; own-data code
passes no name to them. A source's training (``tasks.owndata.train``) and its bento build
(``python -m tasks.deploy build --model-name churn-<name>``) run inside ``model_name_scope``,
which sets it for the duration (one flow run per process: a deployment run, the CLI, or a test).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from core.settings import get_settings


@contextmanager
def model_name_scope(name: str) -> Iterator[None]:
    """Registry and tracking calls inside see ``settings.model_name == name``."""
    settings = get_settings()
    previous = settings.model_name
    settings.model_name = name
    try:
        yield
    finally:
        settings.model_name = previous
