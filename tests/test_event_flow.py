"""Across services through Kafka: the directory's outbox to the ideas service's consumer."""
import threading

from services.directory.app import create_app as create_directory
from services.directory.repository import OUTBOX_COLLECTIONS
from services.ideas.handlers import handlers as ideas_handlers
from shared.consumer import ConsumerRunner
from shared.mongo import database_for
from shared.outbox import Relay
from shared.readmodels import BRANCHES
from conftest import wait_for


def test_a_branch_opened_in_the_directory_reaches_the_ideas_read_model(make_settings, admin_token, producer,
                                                                         consumer_at_end):
    directory_settings, ideas_settings = make_settings("directory"), make_settings("ideas")
    ideas_db = database_for(ideas_settings)
    runner = ConsumerRunner(consumer_at_end("ideas", ["cocreate.directory"]), producer, ideas_db, ideas_handlers,
                            service="ideas")
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    try:
        client = create_directory(directory_settings).test_client()
        auth = {"Authorization": f"Bearer {admin_token}"}
        region = client.post("/directory/api/v1/regions", json={"code": "NORTH", "name": {"he": "צפון", "en": "North"}},
                             headers=auth).json["id"]
        response = client.post("/directory/api/v1/branches", json={
            "code": "FLOW-1", "name": {"he": "חיפה", "en": "Haifa"}, "region_id": region}, headers=auth)
        assert response.status_code == 201, response.json
        branch_id = response.json["id"]
        relay = Relay(database_for(directory_settings), OUTBOX_COLLECTIONS, producer, service="directory")
        assert relay.relay_once() == 1
        wait_for(lambda: ideas_db[BRANCHES].find_one({"_id": branch_id}) is not None)
        known = ideas_db[BRANCHES].find_one({"_id": branch_id})
        assert (known["code"], known["name"]["en"], known["region_id"], known["open"]) == (
            "FLOW-1", "Haifa", region, True)
    finally:
        stop.set()
        thread.join(15)
