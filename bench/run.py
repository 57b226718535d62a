"""Run every benchmark area (or the ones named) in its own process; each prints JSON lines."""

from __future__ import annotations

import argparse
import subprocess
import sys

AREAS = (
    "ingestion",
    "features",
    "training",
    "serving",
    "monitoring",
    "orchestration",
    "declared",
    "definitions",
    "cli",
    "events",
    "bigdata",
    "rollout",
    "replay",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("areas", nargs="*", help=f"subset of {', '.join(AREAS)}")
    args = parser.parse_args(argv)
    areas = args.areas or list(AREAS)
    unknown = sorted(set(areas) - set(AREAS))
    if unknown:
        parser.error(f"unknown benchmark area(s) {unknown}; choose from {AREAS}")
    failed = []
    for area in areas:
        print(f"# bench {area}", file=sys.stderr, flush=True)
        if subprocess.call([sys.executable, "-m", f"bench.{area}"]) != 0:
            failed.append(area)
    if failed:
        print(f"# failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
