"""Your own data: a source declared in one YAML spec → contract, features, labels, ``churn-<name>``.

``spec`` (the YAML fields), ``reader``/``contract`` (types inferred, the built-in contract),
``source`` (the files as an ingestion Source: duplicates, quarantine, replace), ``features``
(FeatureDefs for the one compiler and point-in-time retrieval), ``online`` (its online rows),
``labels``, ``pipeline`` (plain functions) and ``steps`` (Prefect tasks; training, tracking and
the gate are every model's one path, ``tasks.registry.train_candidate``). See docs/your-data.md.
Importing this package reads and connects nothing.
"""

from tasks.owndata.spec import SourceSpec, SpecError, load_spec, parse_spec

__all__ = ["SourceSpec", "SpecError", "load_spec", "parse_spec"]
