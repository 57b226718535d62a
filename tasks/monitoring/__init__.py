"""Monitoring I/O: read predictions, features, ingestion runs and the champion's reference; write
metrics, reports and events. The computations live in the top-level ``monitoring`` package;
the Prefect wrappers in ``steps.py``."""

from tasks.monitoring.reference import PROFILE_ARTIFACT, load_champion_reference

__all__ = ["PROFILE_ARTIFACT", "load_champion_reference"]
