"""Online rows of a declared source by id: what the prediction service reads per request.

Apart from ``online`` (which materializes them) so that a bento carries only this lookup: it
needs the warehouse tables and nothing of the spec, contract or feature compiler.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, select

from core.tables import source_online_features
from tasks.features.lookup import StaleFeaturesError

_CHUNK = 10_000


def lookup_source_rows(
    source: str, ids: Sequence[str], *, engine: Engine, definitions_hash: str
) -> dict[str, dict[str, Any]]:
    """``{customer_id: {"as_of", "features"}}`` of the known ids of ``source``.

    Raises StaleFeaturesError when a row was materialized from other definitions than
    ``definitions_hash`` (the model's).
    """
    t = source_online_features.c
    wanted = list(dict.fromkeys(str(i) for i in ids))
    found: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for start in range(0, len(wanted), _CHUNK):
            query = select(t.customer_id, t.as_of, t.definitions_hash, t.features).where(
                t.source == source, t.customer_id.in_(wanted[start : start + _CHUNK])
            )
            for cid, as_of, digest, document in conn.execute(query):
                if digest != definitions_hash:
                    raise StaleFeaturesError(
                        f"{source}: online row {cid!r} was materialized with definitions"
                        f" {digest[:12]}, the model needs {definitions_hash[:12]}; rerun"
                        f" `make table` (or materialize the source) to rebuild it"
                    )
                found[cid] = {"as_of": as_of, "features": json.loads(document)}
    return found
