"""Published event schemas only change additively. `contract/published/` holds each type's schema as first
published; a breaking edit (a new required field, a removed field, a changed type, closing the object)
must instead be a new `.vN` type, published beside the old one until consumers moved."""
import json

import pytest

from shared.events import registry
from shared.events.registry import CONTRACT

PUBLISHED = CONTRACT / "published"


def breaking_changes(old: dict, new: dict, path: str = "data") -> list[str]:
    problems = []
    if old.get("type") != new.get("type"):
        problems.append(f"{path}: type {old.get('type')} -> {new.get('type')}")
    added_required = set(new.get("required", [])) - set(old.get("required", []))
    if added_required:
        problems.append(f"{path}: newly required {sorted(added_required)}")
    if old.get("additionalProperties", True) and new.get("additionalProperties", True) is False:
        problems.append(f"{path}: closed to additional properties")
    for name, old_prop in old.get("properties", {}).items():
        if name not in new.get("properties", {}):
            problems.append(f"{path}.{name}: removed")
        else:
            problems += breaking_changes(old_prop, new["properties"][name], f"{path}.{name}")
    return problems


@pytest.mark.parametrize("event_type", registry.types)
def test_every_event_type_has_a_published_snapshot(event_type):
    assert (PUBLISHED / f"{event_type}.json").exists(), (
        f"copy schemas/{event_type}.json to published/ when the type is first released")


@pytest.mark.parametrize("event_type", registry.types)
def test_published_schemas_change_only_additively(event_type):
    old = json.loads((PUBLISHED / f"{event_type}.json").read_text())
    assert breaking_changes(old, registry.schema(event_type)) == []


def test_the_compatibility_check_catches_breaking_edits():
    old = {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}
    assert breaking_changes(old, dict(old, required=["a", "b"]))
    assert breaking_changes(old, dict(old, properties={"a": {"type": "string"}}))
    assert breaking_changes(old, dict(old, properties={"a": {"type": "integer"}, "b": {"type": "integer"}}))
    assert breaking_changes(old, dict(old, properties={**old["properties"], "c": {"type": "string"}})) == []
