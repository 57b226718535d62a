"""Slowly-changing-dimension (type 2) merge of staged customer versions, entirely in SQL.

History is never overwritten: a staged version is inserted only if no version exists at the same
``valid_from`` and its attributes differ from the version just before it. A version that arrives
out of order (an older month loaded after a newer one) can make the next stored version repeat
its attributes; that repeat says nothing new and is folded into it, so loading months in any
order gives the same history. Last, ``valid_to`` of every version of the touched customers is set
to the next version's ``valid_from`` (NULL for the current one). The statements run as-is on
SQLite ≥ 3.39 and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import Connection

_ATTRS = (
    "customer_id, signup_date, plan, contract, payment_method, region, monthly_charges, "
    "status, cancel_date, valid_from, attrs_hash, run_id"
)

_INSERT_NEW_VERSIONS = f"""
INSERT INTO customers ({_ATTRS})
SELECT {_ATTRS} FROM (
    SELECT u.*,
           LAG(u.attrs_hash) OVER (PARTITION BY u.customer_id ORDER BY u.valid_from) AS prev_hash
    FROM (
        SELECT {_ATTRS}, 1 AS is_new FROM {{stage}} s
        WHERE NOT EXISTS (
            SELECT 1 FROM customers c
            WHERE c.customer_id = s.customer_id AND c.valid_from = s.valid_from
        )
        UNION ALL
        SELECT {_ATTRS}, 0 AS is_new FROM customers
        WHERE customer_id IN (SELECT customer_id FROM {{stage}})
    ) u
) v
WHERE v.is_new = 1 AND (v.prev_hash IS NULL OR v.prev_hash <> v.attrs_hash)
"""

_FOLD_REPEATS = """
DELETE FROM customers WHERE version_id IN (
    SELECT version_id FROM (
        SELECT version_id, attrs_hash,
               LAG(attrs_hash) OVER (PARTITION BY customer_id ORDER BY valid_from) AS prev_hash
        FROM customers
        WHERE customer_id IN (SELECT customer_id FROM {stage})
    ) v
    WHERE v.prev_hash = v.attrs_hash
)
"""

_CLOSE_VERSIONS = """
UPDATE customers SET valid_to = n.next_from
FROM (
    SELECT version_id,
           LEAD(valid_from) OVER (PARTITION BY customer_id ORDER BY valid_from) AS next_from
    FROM customers
    WHERE customer_id IN (SELECT customer_id FROM {stage})
) n
WHERE customers.version_id = n.version_id AND customers.valid_to IS DISTINCT FROM n.next_from
"""


def merge_customer_versions(conn: Connection, stage: str) -> None:
    """Merge the versions staged in ``stage`` into ``customers`` as SCD2 history."""
    conn.exec_driver_sql(_INSERT_NEW_VERSIONS.format(stage=stage))
    conn.exec_driver_sql(_FOLD_REPEATS.format(stage=stage))
    conn.exec_driver_sql(_CLOSE_VERSIONS.format(stage=stage))
