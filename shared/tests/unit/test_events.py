"""The event contract: envelope, registry, schemas and examples."""
import json

import pytest

from shared.events import EventContractError, Recorded, envelop, new_event, parse_event, registry

BRANCH = {"branch_id": "br_1", "code": "TLV-1", "name": {"he": "תל אביב", "en": "Tel Aviv"},
          "region_id": None, "open": True}


@pytest.mark.parametrize("event_type", registry.types)
def test_every_example_validates_against_its_schema(event_type):
    example = registry.example(event_type)
    assert example["type"] == event_type
    registry.validate(example)


@pytest.mark.parametrize("event_type", registry.types)
def test_every_type_name_is_versioned_and_has_one_topic(event_type):
    assert event_type.startswith("cocreate.") and event_type.rsplit(".", 1)[1].startswith("v")
    assert registry.topic_of(event_type) in registry.topics


def test_new_event_is_a_structured_cloudevent_with_routing_extensions():
    event = new_event("cocreate.branch.created.v1", source="/directory", subject="br_1", data=BRANCH,
                      branch_id="br_1", actor_id="pe_1", correlation_id="req-1")
    envelope = json.loads(event.value)
    assert envelope["specversion"] == "1.0"
    assert envelope["partitionkey"] == "br_1" == event.key
    assert (envelope["branchid"], envelope["actorid"], envelope["correlationid"]) == ("br_1", "pe_1", "req-1")
    assert event.topic == "cocreate.directory"
    registry.validate(envelope)


def test_an_event_whose_data_breaks_its_schema_is_refused_before_it_is_stored():
    with pytest.raises(EventContractError, match="code"):
        new_event("cocreate.branch.created.v1", source="/directory", subject="br_1", data=dict(BRANCH, code=7))


def test_an_unknown_event_type_is_refused():
    with pytest.raises(EventContractError):
        registry.topic_of("cocreate.branch.exploded.v1")


def test_parse_event_reads_back_what_new_event_wrote():
    event = envelop(Recorded("cocreate.branch.created.v1", "br_1", BRANCH, "br_1"), source="/directory",
                    actor_id="pe_9")
    parsed = parse_event(event.value.encode(), b"br_1")
    assert (parsed.id, parsed.type, parsed.subject, parsed.data, parsed.actor_id) == (
        event.id, event.type, "br_1", BRANCH, "pe_9")


def test_a_malformed_envelope_does_not_parse():
    with pytest.raises(Exception):
        parse_event(b'{"type": "x"}')
