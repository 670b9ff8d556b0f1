"""The AsyncAPI document stays true to the registry."""
import yaml

from shared.events import registry
from shared.events.asyncapi import PATH, render


def test_the_committed_asyncapi_document_is_what_the_registry_generates():
    assert PATH.read_text() == render(), "run `python -m shared.events.asyncapi` and commit the result"


def test_every_topic_is_a_channel_and_every_event_type_a_message_with_its_example():
    doc = yaml.safe_load(PATH.read_text())
    assert {c["address"] for c in doc["channels"].values()} == set(registry.topics)
    names = {m["name"]: m for m in doc["components"]["messages"].values()}
    assert set(names) == set(registry.types)
    for event_type, message in names.items():
        assert message["examples"][0]["payload"] == registry.example(event_type)
