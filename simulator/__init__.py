"""Deterministic stand-in source systems of a subscription business (docs/sources.md).

``simulate(SimConfig(...), out_dir)`` writes CRM CSV exports, the billing SQLite database, helpdesk
JSONL files, ``manifest.json`` and the ground truth under ``truth/``.
"""

from simulator.config import SimConfig
from simulator.engine import simulate
from simulator.summary import SimSummary

__all__ = ["SimConfig", "SimSummary", "simulate"]
