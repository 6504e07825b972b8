"""IMS Caliper: the Sensor API envelope (:mod:`.models`) and its mapping to xAPI (:mod:`.mapping`).

Pure, like the rest of ``schemas``: the LRS API's ``/caliper`` endpoint validates an envelope
here, maps each event to a statement and hands the statements to the same intake as xAPI.
"""

from schemas.caliper.mapping import envelope_statements, event_statement
from schemas.caliper.models import CALIPER_CONTEXTS, Envelope, Event

__all__ = ["CALIPER_CONTEXTS", "Envelope", "Event", "envelope_statements", "event_statement"]
