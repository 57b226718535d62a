"""The project's temporary folders: under ``$CHURN_HOME/tmp``, never the system's ``/tmp``.

Each folder is named after the process that made it (``<prefix><pid>-<random>``) and removed
when that process is done with it. A process killed with SIGKILL cannot remove its own: the next
process that makes a folder removes every folder whose process is gone. Nothing secret goes into
them (the side feature session gets the warehouse URL through its environment, not a file).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

import psutil

from core.settings import get_settings

log = logging.getLogger(__name__)
_OWNED = re.compile(r"^[a-z]+(?:-[a-z]+)*-(\d+)-[A-Za-z0-9_]+$")


def temp_root() -> Path:
    """``$CHURN_HOME/tmp``, created (owner only) if missing."""
    root = get_settings().home.resolve() / "tmp"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return root


def temporary_directory(prefix: str) -> tempfile.TemporaryDirectory[str]:
    """A private temporary folder for this process (``prefix`` like ``churn-train-``)."""
    root = temp_root()
    remove_orphans(root)
    return tempfile.TemporaryDirectory(prefix=f"{prefix}{os.getpid()}-", dir=root)


def remove_orphans(root: Path) -> list[Path]:
    """Remove the folders under ``root`` whose process no longer runs; return them."""
    removed = []
    for path in root.iterdir():
        match = _OWNED.match(path.name)
        if not match or not path.is_dir() or psutil.pid_exists(int(match.group(1))):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    if removed:
        log.info("removed %d temporary folder(s) of processes that are gone", len(removed))
    return removed
