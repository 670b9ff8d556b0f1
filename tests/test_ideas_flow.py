"""End to end across services, through the real broker and store: the directory opens two branches and
signs people in; the ideas service learns them from the directory's events; a participant submits an idea,
others vote and comment, staff respond officially and carry it to implemented, and another branch adopts
it. Every event the ideas service publishes is read back from Kafka and checked against the contract."""
import json
import threading
import uuid

from services.directory.app import create_app as create_directory
from services.directory.repository import OUTBOX_COLLECTIONS as DIRECTORY_OUTBOXES
from services.ideas.app import create_app as create_ideas
from services.ideas.handlers import handlers as ideas_handlers
from services.ideas.repository import OUTBOX_COLLECTIONS as IDEAS_OUTBOXES
from shared.consumer import ConsumerRunner
from shared.events import registry
from shared.mongo import database_for
from shared.outbox import Relay
from conftest import poll_until, wait_for


def test_an_idea_goes_from_a_participant_to_implemented_and_is_adopted_by_another_branch(
        make_settings, admin_token, producer, consumer_at_end):
    directory_settings, ideas_settings = make_settings("directory"), make_settings("ideas")
    directory_db, ideas_db = database_for(directory_settings), database_for(ideas_settings)
    published = consumer_at_end("feedback", ["cocreate.ideas"])
    stop = threading.Event()
    threads = [
        threading.Thread(target=ConsumerRunner(consumer_at_end("ideas", ["cocreate.directory"]), producer, ideas_db,
                                               ideas_handlers, service="ideas").run, args=(stop,), daemon=True),
        threading.Thread(target=Relay(directory_db, DIRECTORY_OUTBOXES, producer, service="directory",
                                      poll_seconds=0.02).run, args=(stop,), daemon=True),
        threading.Thread(target=Relay(ideas_db, IDEAS_OUTBOXES, producer, service="ideas",
                                      poll_seconds=0.02).run, args=(stop,), daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        directory, ideas = create_directory(directory_settings).test_client(), create_ideas(ideas_settings).test_client()

        def call(client, prefix, method, path, token, status, **kwargs):
            response = client.open(f"/{prefix}/api/v1{path}", method=method,
                                   headers={"Authorization": f"Bearer {token}"} if token else {}, **kwargs)
            assert response.status_code == status, response.get_data(as_text=True)
            return response.json

        d = lambda *a, **k: call(directory, "directory", *a, **k)  # noqa: E731
        i = lambda *a, **k: call(ideas, "ideas", *a, **k)  # noqa: E731
        run = uuid.uuid4().hex[:6]
        branch = {x: d("POST", "/branches", admin_token, 201, json={
            "code": f"FLOW{x}{run}", "name": {"he": f"סניף {x}", "en": f"Branch {x}"}})["id"] for x in "AB"}
        staff = {}
        for x in "AB":
            made = d("POST", "/people", admin_token, 201, json={
                "name": f"Staff {x}", "email": f"staff{x}.{run}@example.org",
                "branch_roles": {branch[x]: ["branch_staff"]}})
            staff[x] = (made["person"]["id"], d("POST", "/auth/token", None, 200, json={
                "email": f"staff{x}.{run}@example.org", "password": made["temporary_password"]})["access_token"])
        invite = d("POST", "/invites", staff["A"][1], 201, json={"branch_id": branch["A"], "max_uses": 5})["code"]
        people = [d("POST", f"/invites/{invite}/join", None, 201, json={"name": f"Client {n}", "lang": "he"})
                  for n in range(3)]
        author, voters = people[0]["access_token"], [p["access_token"] for p in people[1:]]

        # the ideas service knows the branches and the staff from the directory's events
        wait_for(lambda: ideas_db["branches"].count_documents({"_id": {"$in": list(branch.values())}}) == 2)
        wait_for(lambda: ideas_db["people"].find_one({"_id": staff["A"][0], "kind": "staff"}) is not None)

        idea = i("POST", "/ideas", author, 201, json={
            "title": "חדר שקט לשיעורי בית", "description": "מקום שקט אחרי בית הספר", "branch_id": branch["A"]})
        for token in voters:
            assert i("PUT", f"/ideas/{idea['id']}/vote", token, 200)["voted"] is True
        question = i("POST", f"/ideas/{idea['id']}/comments", voters[0], 201, json={
            "text": "גם אני צריך את זה", "mentions": [staff["A"][0]]})
        i("POST", f"/ideas/{idea['id']}/comments", staff["A"][1], 201, json={
            "text": "נבדוק את החדרים הפנויים", "official": True, "parent_id": question["id"]})
        for status in ("under_review", "planned", "in_progress", "implemented"):
            i("POST", f"/ideas/{idea['id']}/status", staff["A"][1], 200, json={"status": status})
        adoption = i("POST", f"/ideas/{idea['id']}/adoptions", staff["B"][1], 201, json={"branch_id": branch["B"]})

        read = i("GET", f"/ideas/{idea['id']}", author, 200)
        assert read["status"] == "implemented" and read["counts"]["votes"] == 2 and read["counts"]["comments"] == 2
        assert read["spread"] == [{"idea_id": adoption["id"], "branch_id": branch["B"]}]
        assert [h["status"] for h in read["history"]] == ["submitted", "under_review", "planned", "in_progress",
                                                          "implemented"]

        expected = sorted(["cocreate.idea.submitted.v1", "cocreate.idea.followed.v1"]  # author follows
                          + ["cocreate.vote.cast.v1", "cocreate.idea.followed.v1"] * 2
                          + ["cocreate.comment.posted.v1"] * 2 + ["cocreate.idea.followed.v1"]  # staff follows
                          + ["cocreate.idea.status_changed.v1"] * 4
                          + ["cocreate.idea.submitted.v1", "cocreate.idea.adopted.v1"])  # the adoption
        ours = {idea["id"], adoption["id"]}

        def mine(records):
            return [json.loads(r.value) for r in records if r.key.decode() in ours]

        records = poll_until(published, lambda rs: len(mine(rs)) >= len(expected))
        events = mine(records)
        assert sorted(e["type"] for e in events) == expected
        for event in events:
            registry.validate(event)  # the published contract, envelope and data
            assert event["source"] == "/ideas" and event["subject"] == event["partitionkey"]
        official = [e for e in events if e["type"] == "cocreate.comment.posted.v1" and e["data"]["official"]]
        assert official[0]["branchid"] == branch["A"] and official[0]["actorid"] == staff["A"][0]
        # one idea's events arrive in the order they happened (one key, one partition)
        statuses = [e["data"]["to"] for e in events if e["type"] == "cocreate.idea.status_changed.v1"]
        assert statuses == ["under_review", "planned", "in_progress", "implemented"]
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
