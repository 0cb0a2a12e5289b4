"""Scheduler traces: the record schema, the :class:`Trace` columns and the exporters
(Perfetto ``.pftrace``, ftrace text, Chrome trace-event JSON).

>>> from pvsched.trace import KIND, Trace
>>> KIND["kvm_exit"]
6
"""
from pvsched.trace.config import TraceConfig
from pvsched.trace.events import Trace
from pvsched.trace.schema import (COUNTERS, IPI_TYPES, KICK_CAUSES, KIND, KINDS, RECORD_DTYPE, YIELD_OUTCOMES,
                                  Kind, kind_name, prev_state_str, register_kind)

__all__ = ["Trace", "TraceConfig", "KIND", "KINDS", "Kind", "RECORD_DTYPE", "COUNTERS", "KICK_CAUSES", "IPI_TYPES", "YIELD_OUTCOMES", "kind_name",
           "prev_state_str", "register_kind"]
