"""Declared sources: a team's own churn data declared in one YAML spec → ``churn-<name>``.

``spec`` (the YAML fields), ``reader``/``contract`` (types inferred, the built-in contract),
``source`` (the files as an ingestion Source: duplicates, quarantine, replace), ``features``
(FeatureDefs for the one compiler and point-in-time retrieval), ``online`` (its online rows),
``labels``, ``pipeline`` (plain functions) and ``steps`` (Prefect tasks; training, tracking and
the gate are every model's one path, ``tasks.registry.train_candidate``). See
docs/declared-sources.md. Importing this package reads and connects nothing.
"""

from tasks.declared.spec import SourceSpec, SpecError, load_spec, parse_spec

__all__ = ["SourceSpec", "SpecError", "load_spec", "parse_spec"]
