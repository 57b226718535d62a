"""Ingestion: source systems → warehouse through declarative contracts, with quarantine.

One module per source in ``sources/`` behind the ``Source`` interface (``base.py``); the generic
runner ``ingest_source`` loads a window of any of them in one transaction.
"""

from tasks.ingestion.base import IngestionResult, Source, Window
from tasks.ingestion.errors import (
    ContractViolationError,
    EmptySourceFileError,
    IngestionError,
    SchemaMismatchError,
    SourceFormatError,
    SourceNotFoundError,
    UnknownSourceError,
    is_transient,
)
from tasks.ingestion.registry import get_source, list_sources
from tasks.ingestion.runner import ingest_source

__all__ = [
    "ContractViolationError",
    "EmptySourceFileError",
    "IngestionError",
    "IngestionResult",
    "SchemaMismatchError",
    "Source",
    "SourceFormatError",
    "SourceNotFoundError",
    "UnknownSourceError",
    "Window",
    "get_source",
    "ingest_source",
    "is_transient",
    "list_sources",
]
