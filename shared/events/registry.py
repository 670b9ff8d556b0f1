"""The registry of event types: which topic carries each type, its JSON Schema and its example.

The contract lives in `contract/`: `topics.yaml` names each topic's producer, consumers and event types;
`schemas/<type>.json` is the schema of the event's `data`; `examples/<type>.json` a whole example event.
"""
from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path
from typing import Any

import fastjsonschema
import yaml

CONTRACT = Path(__file__).parent / "contract"
_RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
TYPE_NAME = re.compile(r"^cocreate\.[a-z_]+\.[a-z_]+\.v[0-9]+$")

ENVELOPE_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Cocreate CloudEvent envelope (structured JSON)",
    "type": "object",
    "required": ["specversion", "id", "source", "type", "subject", "time", "datacontenttype",
                 "partitionkey", "data"],
    "properties": {
        "specversion": {"const": "1.0"},
        "id": {"type": "string", "minLength": 1},
        "source": {"type": "string", "pattern": "^/(directory|ideas|feedback|notifications)$"},
        "type": {"type": "string", "pattern": TYPE_NAME.pattern},
        "subject": {"type": "string", "minLength": 1},
        "time": {"type": "string", "format": "date-time"},
        "datacontenttype": {"const": "application/json"},
        "dataschema": {"type": "string"},
        "partitionkey": {"type": "string", "minLength": 1},
        "branchid": {"type": "string"},
        "actorid": {"type": "string"},
        "correlationid": {"type": "string"},
        "data": {"type": "object"},
    },
    "additionalProperties": False,
}


class EventContractError(ValueError):
    """An event that does not match the published contract."""


class Registry:
    def __init__(self, root: Path = CONTRACT):
        self.root = root

    @cached_property
    def topics(self) -> dict[str, dict[str, Any]]:
        return yaml.safe_load((self.root / "topics.yaml").read_text())["topics"]

    @cached_property
    def _topic_by_type(self) -> dict[str, str]:
        return {t: name for name, topic in self.topics.items() for t in topic["events"]}

    @cached_property
    def _validators(self) -> dict[str, Any]:
        # Compiled once to Python code: validation runs for every event built, on the request path.
        return {t: fastjsonschema.compile(self.schema(t)) for t in self._topic_by_type}

    @cached_property
    def _envelope(self):
        return fastjsonschema.compile(ENVELOPE_SCHEMA, formats={"date-time": _RFC3339})

    @property
    def types(self) -> list[str]:
        return sorted(self._topic_by_type)

    def topic_of(self, type: str) -> str:
        try:
            return self._topic_by_type[type]
        except KeyError:
            raise EventContractError(f"unknown event type {type!r}") from None

    def topics_of_producer(self, service: str) -> list[str]:
        return [name for name, topic in self.topics.items() if topic["producer"] == service]

    def topics_consumed_by(self, service: str) -> list[str]:
        return [name for name, topic in self.topics.items() if service in topic.get("consumers", [])]

    def schema(self, type: str) -> dict[str, Any]:
        return json.loads((self.root / "schemas" / f"{type}.json").read_text())

    def example(self, type: str) -> dict[str, Any]:
        return json.loads((self.root / "examples" / f"{type}.json").read_text())

    def schema_uri(self, type: str) -> str:
        self.topic_of(type)
        return f"https://cocreate.example/events/schemas/{type}.json"

    def validate(self, envelope: dict[str, Any]) -> None:
        """Raise EventContractError unless the envelope and its data match the contract."""
        try:
            self._envelope(envelope)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise EventContractError(f"{envelope.get('type')}: envelope: {exc.message}") from None
        self.topic_of(envelope["type"])
        try:
            self._validators[envelope["type"]](envelope["data"])
        except fastjsonschema.JsonSchemaValueException as exc:
            raise EventContractError(f"{envelope['type']}: {exc.message}") from None


registry = Registry()
