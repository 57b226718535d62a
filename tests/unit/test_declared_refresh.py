"""After the gate, a source's online store follows the definitions its champion reads."""

from __future__ import annotations

import pytest

from tasks.declared.refresh import Champion, decide_refresh


@pytest.mark.parametrize(
    ("champion", "materialize", "starts"),
    [
        (None, True, "materialized with v3's definitions new"),
        (Champion("3", "new"), True, "materialized for champion v3 (promoted"),
        (Champion("2", "new"), True, "materialized for champion v2 (same definitions"),
        (Champion("2", "old"), False, "kept for champion v2: its rows keep its definitions old"),
    ],
)
def test_decide_refresh_materializes_only_what_the_champion_reads(
    champion: Champion | None, materialize: bool, starts: str
) -> None:
    decided, reason = decide_refresh(candidate="3", definitions_hash="new", champion=champion)
    assert decided is materialize and reason.startswith(starts), reason
