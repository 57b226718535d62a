"""Render the feature catalogue as a markdown table (kept in docs/features.md).

``python -m tasks.features.docs`` prints it; a unit test fails when docs/features.md is stale.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from tasks.features.definitions import CATEGORIES, FEATURES, FeatureDef


def feature_table_markdown(features: Sequence[FeatureDef] = FEATURES) -> str:
    """One row per feature: name, source, aggregate, window, dtype, description."""
    lines = [
        "| feature | source | aggregate | window | dtype | description |",
        "|---|---|---|---|---|---|",
    ]
    for fd in features:
        window = "-" if fd.window_days is None else f"{fd.window_days} d"
        if fd.baseline_days is not None:
            window += f" vs {fd.baseline_days} d"
        if fd.source.name == "customers" and fd.window_days is None:
            window = "at as_of"
        dtype: str = fd.dtype
        if fd.name in CATEGORIES:
            dtype += ": " + ", ".join(CATEGORIES[fd.name])
        lines.append(
            f"| `{fd.name}` | {fd.source.name} | {fd.aggregate} | {window} | {dtype} |"
            f" {fd.description} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.parse_args(argv)
    print(feature_table_markdown())


if __name__ == "__main__":
    main()
