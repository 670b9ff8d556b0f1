"""Events as a public contract: the CloudEvents envelope and the registry of versioned event types."""
from shared.events.envelope import Event, envelop, envelop_all, new_event, parse_event
from shared.events.recorded import Recorded
from shared.events.registry import EventContractError, registry

__all__ = ["Event", "EventContractError", "Recorded", "envelop", "envelop_all", "new_event", "parse_event", "registry"]
