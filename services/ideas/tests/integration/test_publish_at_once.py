"""The ideas web process publishing at once (OUTBOX_PUBLISH_AT_ONCE=all): the events of its writes reach the broker
right after the request, with no relay running, and leave nothing in the outbox."""
import json

import pytest

from conftest import poll_until
from services.ideas.repository import IDEAS
from services.ideas.tests.conftest import make_ideas_app
from shared import outbox
from shared.events import registry
from shared.outbox import ENTRIES, PENDING


@pytest.fixture(scope="module")
def ideas_app(infra, keys):
    """The module's app, publishing at once."""
    return make_ideas_app(infra, keys, outbox_publish_at_once="all")


def test_a_status_change_is_on_the_broker_right_after_the_request_without_a_relay(ideas_app, org, consumer_at_end):
    app, db = ideas_app
    publisher = app.extensions["outbox_publisher"]
    outbox.publish_at_once_by(publisher)  # the app's choice, which the suite undoes after each test
    consumer = consumer_at_end("notifications", [registry.topic_of("cocreate.idea.status_changed.v1")])
    idea = org.submit()
    assert publisher.idle(timeout=10)  # a change right behind it, events still unpublished, would go the relay's way
    org.api.ok("POST", f"/ideas/{idea['id']}/status", org.tokens["staff_a"], json={"status": "under_review"})
    records = poll_until(consumer, lambda rs: any(
        json.loads(r.value)["type"] == "cocreate.idea.status_changed.v1" and r.key == idea["id"].encode()
        for r in rs), timeout=10)
    types = [json.loads(r.value)["type"] for r in records if r.key == idea["id"].encode()]
    assert sorted(types) == ["cocreate.idea.followed.v1", "cocreate.idea.status_changed.v1",
                             "cocreate.idea.submitted.v1"]  # the author follows their idea
    assert types.index("cocreate.idea.submitted.v1") < types.index("cocreate.idea.status_changed.v1")
    assert publisher.idle(timeout=10)
    doc = db[IDEAS].find_one({"_id": idea["id"]})
    assert ENTRIES not in doc and PENDING not in doc
