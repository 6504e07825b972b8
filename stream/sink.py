"""The worker's write path: one batch of outcomes into the warehouse, in one turn.

Apart from the Faust app (stream/app.py) so that the benchmark and tests can drive the very
same write without starting a worker or reaching a broker.
"""

from __future__ import annotations

from collections.abc import Sequence

from stream.process import Accepted, Outcome, Rejected, settle_batch
from warehouse.client import Warehouse


def write_batch(wh_client: Warehouse, outcomes: Sequence[Outcome]) -> tuple[int, list[Rejected]]:
    """Store one batch in a single warehouse turn; returns (stored, rejected).

    Order matters for crash safety: identities and dead letters first, statements last, so a
    crash between writes never leaves a stored statement whose redelivery would be skipped
    before its identity rows exist.
    """
    with wh_client.session() as wh:
        ids = [o.statement_id for o in outcomes if isinstance(o, Accepted)]
        fresh, rejected = settle_batch(list(outcomes), wh.existing_hashes(ids))
        identities = {
            (i.actor_key, i.ifi_type, i.ifi_value, i.name or "")
            for a in fresh
            for i in a.identities
        }
        wh.insert_identities(sorted(identities))
        known = wh.existing_dead_letter_ids([str(r.dl_id()) for r in rejected])
        new = [r for r in rejected if str(r.dl_id()) not in known]
        wh.insert_dead_letters([r.row() for r in new], [r.raw_row() for r in new])
        wh.insert_records([a.record_row for a in fresh])
        wh.insert_activity_definitions([row for a in fresh for row in a.definition_rows])
        wh.insert_statements([a.row for a in fresh])
    return len(fresh), rejected
