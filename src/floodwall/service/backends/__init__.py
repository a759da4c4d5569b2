"""Where the API's calls go: the embedded engine behind a Hub (``embedded``), or NATS JetStream and its
workers (``nats``); what both offer is ``base.Backend``."""

from floodwall.service.backends.base import Backend, gate_answer
from floodwall.service.backends.embedded import EmbeddedBackend
from floodwall.service.backends.nats import BUILT_IN_BANKS, NatsBackend

__all__ = ["BUILT_IN_BANKS", "Backend", "EmbeddedBackend", "NatsBackend", "gate_answer"]
