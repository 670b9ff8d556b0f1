"""End to end across services, through the real broker and store: the directory opens a branch, and participants
of two age groups join it (consenting to give their age group); the ideas service and the feedback service learn
them from the directory's events. A participant submits an idea, the others support it, staff carry it to
implemented; the feedback worker hears it, opens the idea's outcome survey for exactly its people, who answer;
the branch's outcome insights show the idea's success by age group. Every event the feedback service publishes
is read back from Kafka and checked against the contract."""
import json
import threading
import uuid

from conftest import poll_until, wait_for
from services.directory.app import create_app as create_directory
from services.directory.repository import OUTBOX_COLLECTIONS as DIRECTORY_OUTBOXES
from services.feedback.app import create_app as create_feedback
from services.feedback.domain import outcome_id
from services.feedback.handlers import handlers as feedback_handlers
from services.feedback.repository import OUTBOX_COLLECTIONS as FEEDBACK_OUTBOXES
from services.feedback.tests.conftest import clear_of_a_month_turn
from services.ideas.app import create_app as create_ideas
from services.ideas.handlers import handlers as ideas_handlers
from services.ideas.repository import OUTBOX_COLLECTIONS as IDEAS_OUTBOXES
from shared.consumer import ConsumerRunner
from shared.events import registry
from shared.mongo import database_for
from shared.outbox import Relay

YOUNG, OLD = "18_29", "65_plus"
ANSWERS = {YOUNG: [5, 4, 5, 4, 5], OLD: [5, 4, 2, 1, 4]}  # all positive; three of five positive


def test_an_implemented_idea_is_measured_by_its_outcome_survey_and_the_branch_sees_it_by_age_group(
        make_settings, admin_token, producer, consumer_at_end):
    clear_of_a_month_turn()  # the ten answers and the view by age group in one month, not split at midnight UTC
    settings = {name: make_settings(name) for name in ("directory", "ideas", "feedback")}
    dbs = {name: database_for(s) for name, s in settings.items()}
    published = consumer_at_end("notifications", ["cocreate.feedback"])
    stop = threading.Event()
    runners = [
        ConsumerRunner(consumer_at_end("ideas", ["cocreate.directory"]), producer, dbs["ideas"], ideas_handlers,
                       service="ideas"),
        ConsumerRunner(consumer_at_end("feedback", ["cocreate.directory", "cocreate.ideas", "cocreate.feedback"]),
                       producer, dbs["feedback"], feedback_handlers, service="feedback"),
    ]
    relays = [Relay(dbs[name], outboxes, producer, service=name, poll_seconds=0.02) for name, outboxes in (
        ("directory", DIRECTORY_OUTBOXES), ("ideas", IDEAS_OUTBOXES), ("feedback", FEEDBACK_OUTBOXES))]
    threads = [threading.Thread(target=worker.run, args=(stop,), daemon=True) for worker in runners + relays]
    for thread in threads:
        thread.start()
    try:
        clients = {name: create(settings[name]).test_client() for name, create in (
            ("directory", create_directory), ("ideas", create_ideas), ("feedback", create_feedback))}

        def call(service, method, path, token, status=200, **kwargs):
            response = clients[service].open(f"/{service}/api/v1{path}", method=method,
                                             headers={"Authorization": f"Bearer {token}"} if token else {}, **kwargs)
            assert response.status_code == status, response.get_data(as_text=True)
            return response.json

        run = uuid.uuid4().hex[:6]
        branch = call("directory", "POST", "/branches", admin_token, 201, json={
            "code": f"FBK{run}", "name": {"he": "סניף נווה", "en": "Neve branch"}})["id"]
        made = call("directory", "POST", "/people", admin_token, 201, json={
            "name": "Staff", "email": f"staff.{run}@example.org", "branch_roles": {branch: ["branch_staff"]}})
        staff_id = made["person"]["id"]
        staff = call("directory", "POST", "/auth/token", None, json={
            "email": f"staff.{run}@example.org", "password": made["temporary_password"]})["access_token"]
        invite = call("directory", "POST", "/invites", staff, 201, json={"branch_id": branch, "max_uses": 20})["code"]
        people = {YOUNG: [], OLD: []}
        for age in (YOUNG, OLD):
            for n in range(5):
                joined = call("directory", "POST", f"/invites/{invite}/join", None, 201,
                              json={"name": f"Client {age} {n}", "age_group": age})
                people[age].append((joined["person"]["id"], joined["access_token"]))
        outsider = call("directory", "POST", f"/invites/{invite}/join", None, 201, json={"age_group": "30_44"})
        everyone = [p for age in (YOUNG, OLD) for p in people[age]]
        (_, author), supporters = everyone[0], everyone[1:]

        # both services know the branch and the people (the feedback service: with their consented age group)
        wait_for(lambda: dbs["ideas"]["people"].find_one({"_id": staff_id, "kind": "staff"}) is not None)
        wait_for(lambda: all(dbs["feedback"]["people"].find_one({"_id": pid, "age_group": age}) is not None
                             for age in (YOUNG, OLD) for pid, _ in people[age]), timeout=30)

        idea = call("ideas", "POST", "/ideas", author, 201, json={
            "title": "ספסלים בצל ליד הכניסה", "description": "מקום לשבת בהמתנה", "branch_id": branch})
        for _, token in supporters:
            call("ideas", "PUT", f"/ideas/{idea['id']}/vote", token)
        call("ideas", "POST", f"/ideas/{idea['id']}/comments", staff, 201, json={
            "text": "נבדוק עם העירייה", "official": True})
        for status in ("under_review", "planned", "in_progress", "implemented"):
            call("ideas", "POST", f"/ideas/{idea['id']}/status", staff, json={"status": status})

        # the feedback worker heard it and opened the outcome survey for exactly the idea's people
        survey_id = outcome_id(idea["id"])
        wait_for(lambda: dbs["feedback"]["surveys"].find_one({"_id": survey_id}) is not None, timeout=30)
        # The votes leave the ideas service from another outbox than the status changes: one heard after the
        # survey opened invites its supporter then.
        wait_for(lambda: dbs["feedback"]["surveys"].find_one({"_id": survey_id}).get("invited") == 10, timeout=30)
        survey = call("feedback", "GET", f"/surveys/{survey_id}", author)
        assert survey["kind"] == "outcome" and survey["idea_id"] == idea["id"] and survey["branch_id"] == branch
        assert survey["invited"] == 10
        call("feedback", "POST", f"/surveys/{survey_id}/responses", outsider["access_token"], 403,
             json={"answers": {"q1": 5}})
        call("feedback", "POST", f"/surveys/{survey_id}/responses", staff, 403, json={"answers": {"q1": 5}})
        for age in (YOUNG, OLD):
            for (_, token), csat in zip(people[age], ANSWERS[age]):
                call("feedback", "POST", f"/surveys/{survey_id}/responses", token, 201, json={"answers": {"q1": csat}})

        view = call("feedback", "GET", f"/insights/outcomes?branch_id={branch}", staff)
        by_age = {row["age_group"]: row["outcomes"] for row in view["by_age_group"]}
        assert set(by_age) == {YOUNG, OLD}
        assert (by_age[YOUNG]["people"], by_age[YOUNG]["positive_share"]) == (5, 1.0)
        assert (by_age[OLD]["people"], by_age[OLD]["positive_share"]) == (5, 0.6)
        assert [(i["idea_id"], i["success"]["positive_share"]) for i in view["ideas"]] == [(idea["id"], 0.8)]
        assert (view["implemented_with_outcome"], view["positive"]) == (1, 1)
        idea_view = call("feedback", "GET", f"/insights/outcomes?idea_id={idea['id']}", staff)
        assert {r["age_group"]: r["outcomes"]["positive_share"] for r in idea_view["by_age_group"]} == {
            YOUNG: 1.0, OLD: 0.6}
        funnel = call("feedback", "GET", f"/insights/ideas?branch_id={branch}", staff)["funnel"]
        assert funnel["implemented"] == 1 and funnel["submitted"] == 0

        # what the feedback service published: the survey opened, then ten responses, all as the contract says
        def ours(records):  # delivery is at least once: a redelivered event (same id) counts once
            found = {}
            for r in records:
                event = json.loads(r.value)
                if event["data"].get("survey_id") == survey_id:
                    found[event["id"]] = event
            return list(found.values())

        events = ours(poll_until(published, lambda rs: len(ours(rs)) >= 11, timeout=30))
        assert sorted(e["type"] for e in events) == ["cocreate.feedback.submitted.v1"] * 10 + [
            "cocreate.survey.opened.v1"]
        for event in events:
            registry.validate(event)
            assert event["source"] == "/feedback" and event["subject"] == event["partitionkey"]
            assert event["branchid"] == branch
        submitted = [e["data"] for e in events if e["type"] == "cocreate.feedback.submitted.v1"]
        assert {d["age_group"] for d in submitted} == {YOUNG, OLD} and all(d["kind"] == "outcome" for d in submitted)
        assert {d["person_id"] for d in submitted} == {pid for pid, _ in everyone}
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
