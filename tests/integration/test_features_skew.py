"""Property tests on random small histories: training and serving see the same features, both
equal the brute-force reference, and nothing after as_of ever leaks into a feature."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from tasks.features.store import get_historical_features, get_online_features, materialize
from tests.integration.test_features_reference import (
    AS_OF,
    DAY,
    History,
    assert_features_equal,
    reference_frame,
    version,
    write_history,
)

CIDS = ("C1", "C2", "C3")
MOMENTS = (AS_OF, AS_OF - 45 * DAY + timedelta(hours=5))
S = 86400
# Offsets (seconds from AS_OF) that sit on or next to every window edge.
EDGES = [0, -1, 1] + [
    sign * d * S + e for d in (7, 30, 60, 90, 180) for e in (0, 1) for sign in (-1,)
]
OFFSETS = st.one_of(st.sampled_from(EDGES), st.integers(-400 * S, 20 * S))
CHECKS = settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _at(offset: int) -> datetime:
    return AS_OF + timedelta(seconds=offset)


@st.composite
def histories(draw: st.DrawFn) -> History:
    """1-3 customers with 1-3 CRM versions, up to 12 billing events and 5 tickets."""
    h = History()
    for cid in draw(st.lists(st.sampled_from(CIDS), min_size=1, max_size=3, unique=True)):
        starts = sorted(draw(st.lists(OFFSETS, min_size=1, max_size=3, unique=True)))
        signup = _at(starts[0]) - draw(st.integers(0, 40)) * DAY
        for i, start in enumerate(starts):
            end = _at(starts[i + 1]) if i + 1 < len(starts) else None
            cancel = None
            if end is None and draw(st.booleans()):
                cancel = (_at(draw(OFFSETS)) + DAY).date()
            h.versions.append(
                version(
                    cid,
                    _at(start),
                    end,
                    signup_date=date(signup.year, signup.month, signup.day),
                    plan=draw(st.sampled_from(["basic", "standard", "premium"])),
                    contract=draw(st.sampled_from(["month-to-month", "two-year"])),
                    monthly_charges=draw(st.sampled_from([19.99, 30.0, 45.5, 80.0])),
                    status="cancelled" if cancel else "active",
                    cancel_date=cancel,
                )
            )
    kinds = st.sampled_from(["charge", "payment", "refund", "failed_payment"])
    amounts = st.sampled_from([0.0, 0.01, 9.99, 25.5, 100.0, 333.33])
    for i in range(draw(st.integers(0, 12))):
        h.txns.append(
            {
                "txn_id": f"t{i}",
                "customer_id": draw(st.sampled_from(CIDS)),
                "txn_type": draw(kinds),
                "amount": draw(amounts),
                "occurred_at": _at(draw(OFFSETS)),
            }
        )
    for i in range(draw(st.integers(0, 5))):
        created = _at(draw(OFFSETS))
        took = draw(st.one_of(st.none(), st.sampled_from([0, 3600, 7 * S]), st.integers(1, 40 * S)))
        resolved = None if took is None else created + timedelta(seconds=took)
        h.tickets.append(
            {
                "ticket_id": f"k{i}",
                "customer_id": draw(st.sampled_from(CIDS)),
                "created_at": created,
                "updated_at": resolved or created,
                "status": "open" if resolved is None else "resolved",
                "category": draw(st.sampled_from(["billing", "technical", "cancellation"])),
                "priority": draw(st.sampled_from(["low", "high", "urgent"])),
                "resolved_at": resolved,
                "satisfaction": None if resolved is None else draw(st.none() | st.integers(1, 5)),
            }
        )
    return h


def _entity() -> pd.DataFrame:
    pairs = [(cid, moment) for moment in MOMENTS for cid in (*CIDS, "C9")]
    return pd.DataFrame(pairs, columns=["customer_id", "as_of"])


def _active_at(history: History, t: datetime) -> list[str]:
    """Reference population: a version valid at t, signed up, latest cancel_date empty or later."""
    out = []
    for cid in CIDS:
        mine = sorted(
            (v for v in history.versions if v["customer_id"] == cid), key=lambda v: v["valid_from"]
        )
        valid = [
            v for v in mine if v["valid_from"] <= t and (v["valid_to"] is None or v["valid_to"] > t)
        ]
        cancel = mine[-1]["cancel_date"] if mine else None
        cancel_at = None if cancel is None else datetime(cancel.year, cancel.month, cancel.day)
        signup = valid[0]["signup_date"] if valid else None
        signed_up = signup is not None and datetime(signup.year, signup.month, signup.day) <= t
        if valid and signed_up and (cancel_at is None or cancel_at > t):
            out.append(cid)
    return out


@CHECKS
@given(history=histories())
def test_store_matches_reference_and_serving_matches_training(
    engine: Engine, history: History
) -> None:
    write_history(engine, history)
    entity = _entity()
    training = get_historical_features(entity, engine=engine)
    assert_features_equal(training, reference_frame(history, entity))

    done = materialize(AS_OF, engine=engine)
    served = get_online_features([*CIDS, "C9"], engine=engine)
    active = _active_at(history, AS_OF)
    assert done.rows == len(active) and served.frame["customer_id"].tolist() == active
    assert served.unknown_ids == [c for c in (*CIDS, "C9") if c not in active]
    assert all(moment == AS_OF for moment in served.as_of.values())
    at_as_of = training[training["as_of"] == AS_OF].set_index("customer_id").loc[active]
    assert_features_equal(served.frame, at_as_of.reset_index(), rtol=1e-12)


def _move_after(event: dict[str, Any], key: str, seconds: int) -> dict[str, Any]:
    return {**event, key: AS_OF + timedelta(seconds=seconds)}


@CHECKS
@given(history=histories(), data=st.data())
def test_events_after_as_of_never_change_a_feature(
    engine: Engine, history: History, data: st.DataObject
) -> None:
    later = data.draw(st.integers(1, 60 * S), label="seconds after as_of")
    choices = [("txn", i) for i in range(len(history.txns))]
    choices += [("ticket", i) for i in range(len(history.tickets))]
    choices += [("version", -1)]
    kind, i = data.draw(st.sampled_from(choices), label="event")
    if kind == "txn":
        without = replace(history, txns=history.txns[:i] + history.txns[i + 1 :])
        moved = replace(
            history, txns=[*without.txns, _move_after(history.txns[i], "occurred_at", later)]
        )
    elif kind == "ticket":
        ticket = history.tickets[i]
        if (
            ticket["resolved_at"] is not None
            and ticket["created_at"] <= AS_OF
            and data.draw(st.booleans())
        ):
            # Moving a resolution after as_of must look exactly like "still open, not yet rated".
            unresolved = {**ticket, "resolved_at": None, "satisfaction": None, "status": "open"}
            without = replace(
                history, tickets=[*history.tickets[:i], unresolved, *history.tickets[i + 1 :]]
            )
            resolved_later = _move_after(ticket, "resolved_at", max(later, 1))
            moved = replace(
                history, tickets=[*history.tickets[:i], resolved_later, *history.tickets[i + 1 :]]
            )
        else:
            without = replace(history, tickets=history.tickets[:i] + history.tickets[i + 1 :])
            created = _move_after(ticket, "created_at", later)
            if ticket["resolved_at"] is not None:
                created["resolved_at"] = created["created_at"] + (
                    ticket["resolved_at"] - ticket["created_at"]
                )
            moved = replace(history, tickets=[*without.tickets, created])
    else:
        without, moved = history, _with_version_after(history, later)
    write_history(engine, without)
    before = get_historical_features(_entity(), engine=engine)
    write_history(engine, moved)
    after = get_historical_features(_entity(), engine=engine)
    assert_features_equal(after, before, rtol=0.0)


def _with_version_after(history: History, seconds: int) -> History:
    """A new CRM version (different everything) starting after as_of for the first customer."""
    current = next(v for v in history.versions if v["valid_to"] is None)
    start = max(AS_OF + timedelta(seconds=seconds), current["valid_from"] + timedelta(seconds=1))
    closed = {**current, "valid_to": start}
    new = {
        **current,
        "valid_from": start,
        "plan": "premium",
        "monthly_charges": 999.0,
        "region": "west",
    }
    others = [v for v in history.versions if v is not current]
    return replace(history, versions=[*others, closed, new])
