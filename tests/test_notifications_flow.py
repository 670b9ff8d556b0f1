"""End to end across services, through the real broker and store: the directory opens a branch and signs
people in; the ideas service and the notifications service learn them from the directory's events; a
participant submits an idea, another supports it, staff move it on and respond officially; each person finds
what concerns them in their inbox, in their language; the staff member who asked for e-mail gets one (a real
SMTP server), a system subscribed by webhook gets the events signed (a real HTTP receiver); and the
notifications service's `delivered` events are read back from Kafka and checked against the contract."""
import json
import threading
import uuid

from aiosmtpd.controller import Controller

from conftest import poll_until, wait_for
from services.directory.app import create_app as create_directory
from services.directory.repository import OUTBOX_COLLECTIONS as DIRECTORY_OUTBOXES
from services.ideas.app import create_app as create_ideas
from services.ideas.handlers import handlers as ideas_handlers
from services.ideas.repository import OUTBOX_COLLECTIONS as IDEAS_OUTBOXES
from services.notifications import signing
from services.notifications.app import create_app as create_notifications
from services.notifications.delivery import Dispatcher
from services.notifications.handlers import handlers as notifications_handlers
from services.notifications.repository import OUTBOX_COLLECTIONS as NOTIFICATIONS_OUTBOXES
from services.notifications.tests.conftest import Mailbox, Receiver, delivery_settings, free_port
from shared.consumer import ConsumerRunner
from shared.events import registry
from shared.mongo import database_for
from shared.outbox import Relay


def test_people_hear_in_their_inbox_and_language_what_happens_to_ideas_that_concern_them(
        make_settings, admin_token, producer, consumer_at_end):
    # the test's webhook receiver is on this machine: a deployment allowing private addresses
    settings = {name: make_settings(name, **({"webhook_allow_private": True} if name == "notifications" else {}))
                for name in ("directory", "ideas", "notifications")}
    dbs = {name: database_for(s) for name, s in settings.items()}
    published = consumer_at_end("feedback", ["cocreate.notifications"])
    stop = threading.Event()
    runners = [
        ConsumerRunner(consumer_at_end("ideas", ["cocreate.directory"]), producer, dbs["ideas"], ideas_handlers,
                       service="ideas"),
        ConsumerRunner(consumer_at_end("notifications", ["cocreate.directory", "cocreate.ideas"]), producer,
                       dbs["notifications"], notifications_handlers, service="notifications"),
    ]
    relays = [Relay(dbs[name], outboxes, producer, service=name, poll_seconds=0.02) for name, outboxes in (
        ("directory", DIRECTORY_OUTBOXES), ("ideas", IDEAS_OUTBOXES), ("notifications", NOTIFICATIONS_OUTBOXES))]
    mailbox, receiver = Mailbox(), Receiver()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    delivery = Dispatcher(dbs["notifications"], delivery_settings(
        settings["notifications"], smtp.port, smtp_user="", delivery_poll_seconds=0.05))
    threads = [threading.Thread(target=worker.run, args=(stop,), daemon=True)
               for worker in runners + relays + [delivery]]
    for thread in threads:
        thread.start()
    try:
        clients = {name: create(settings[name]).test_client() for name, create in (
            ("directory", create_directory), ("ideas", create_ideas), ("notifications", create_notifications))}

        def call(service, method, path, token, status=200, **kwargs):
            response = clients[service].open(f"/{service}/api/v1{path}", method=method,
                                             headers={"Authorization": f"Bearer {token}"} if token else {}, **kwargs)
            assert response.status_code == status, response.get_data(as_text=True)
            return response.json

        run = uuid.uuid4().hex[:6]
        branch = call("directory", "POST", "/branches", admin_token, 201, json={
            "code": f"NTF{run}", "name": {"he": "סניף הדר", "en": "Hadar branch"}})["id"]
        made = call("directory", "POST", "/people", admin_token, 201, json={
            "name": "Staff", "email": f"staff.{run}@example.org", "lang": "en",
            "branch_roles": {branch: ["branch_staff"]}})
        staff = call("directory", "POST", "/auth/token", None, json={
            "email": f"staff.{run}@example.org", "password": made["temporary_password"]})["access_token"]
        invite = call("directory", "POST", "/invites", staff, 201, json={"branch_id": branch, "max_uses": 5})["code"]
        author, supporter = (call("directory", "POST", f"/invites/{invite}/join", None, 201,
                                  json={"name": name, "lang": lang})
                             for name, lang in (("Noa", "he"), ("Sam", "en")))
        people = [made["person"]["id"], author["person"]["id"], supporter["person"]["id"]]
        # the staff member wants e-mail about their branch; a CRM subscribes to new ideas and status changes
        call("notifications", "PUT", "/preferences", staff, json={"categories": {"branch_activity": {"email": True}}})
        hook = call("notifications", "POST", "/webhooks", admin_token, 201, json={
            "url": receiver.url, "event_types": ["cocreate.idea.submitted.v1", "cocreate.idea.status_changed.v1"]})

        # both services know the branch and the people from the directory's events
        wait_for(lambda: dbs["ideas"]["branches"].find_one({"_id": branch}) is not None, timeout=30)
        wait_for(lambda: dbs["ideas"]["people"].find_one({"_id": people[0], "kind": "staff"}) is not None, timeout=30)
        wait_for(lambda: all(dbs["notifications"]["people"].find_one({"_id": p}) for p in people), timeout=30)
        wait_for(lambda: dbs["notifications"]["audiences"].find_one({"members": people[0]}) is not None, timeout=30)

        idea = call("ideas", "POST", "/ideas", author["access_token"], 201, json={
            "title": "חדר שקט לשיעורי בית", "description": "מקום שקט אחרי בית הספר", "branch_id": branch})

        def inbox(token, count):
            found = []

            def arrived():
                found[:] = call("notifications", "GET", "/inbox", token)["items"]
                return len(found) >= count

            wait_for(arrived, timeout=30)
            return found

        [new_idea] = inbox(staff, 1)
        assert new_idea["message"] == "idea.submitted.staff" and new_idea["idea_id"] == idea["id"]
        assert new_idea["body"] == "A new idea for Hadar branch: “חדר שקט לשיעורי בית”."

        call("ideas", "PUT", f"/ideas/{idea['id']}/vote", supporter["access_token"])  # supporters follow
        wait_for(lambda: dbs["notifications"]["audiences"].find_one({"members": people[2]}) is not None, timeout=30)
        call("ideas", "POST", f"/ideas/{idea['id']}/status", staff, json={"status": "under_review"})
        call("ideas", "POST", f"/ideas/{idea['id']}/comments", staff, 201, json={
            "text": "נבדוק את החדרים הפנויים", "official": True})

        told_author = inbox(author["access_token"], 2)
        assert [n["message"] for n in told_author] == ["comment.official.author", "idea.status_changed.author"]
        assert told_author[1]["body"] == 'הרעיון "חדר שקט לשיעורי בית" עבר לסטטוס: בבדיקה.'
        [told_supporter] = inbox(supporter["access_token"], 1)
        assert told_supporter["title"] == "News about an idea you follow"
        assert call("notifications", "GET", "/inbox/unread-count", supporter["access_token"])["unread"] == 1
        call("notifications", "POST", f"/inbox/{told_supporter['id']}/read", supporter["access_token"])
        assert call("notifications", "GET", "/inbox/unread-count", supporter["access_token"])["unread"] == 0

        # every delivery is told on cocreate.notifications, as the contract says
        told = {n["id"] for n in told_author + [told_supporter, new_idea]}

        def delivered(records):
            return {d["notification_id"] for r in records for d in json.loads(r.value)["data"]["deliveries"]}

        # the e-mail, in the staff member's language; the webhook calls, signed with the subscription's secret
        wait_for(lambda: len(mailbox.to(f"staff.{run}@example.org")) == 1, timeout=30)
        [mail] = mailbox.to(f"staff.{run}@example.org")
        assert mail["Subject"] == "A new idea"
        assert "A new idea for Hadar branch: “חדר שקט לשיעורי בית”." in mail.get_body(("plain",)).get_content()
        wait_for(lambda: len(receiver.accepted) == 2, timeout=30)
        calls = {json.loads(r["body"])["type"]: r for r in receiver.accepted}
        assert set(calls) == {"cocreate.idea.submitted.v1", "cocreate.idea.status_changed.v1"}
        for request in calls.values():
            assert signing.verify(hook["secret"], request["body"], request["headers"]["X-Cocreate-Signature"])
            assert json.loads(request["body"])["data"]["idea_id"] == idea["id"]

        channels = {"inapp", "email", "webhook"}

        def all_told(records):
            seen = {json.loads(r.value)["data"]["channel"] for r in records}
            return told <= delivered(records) and channels <= seen

        records = poll_until(published, all_told, timeout=30)
        for record in records:
            event = json.loads(record.value)
            registry.validate(event)
            assert event["source"] == "/notifications" and record.key.decode() == event["subject"]
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
        smtp.stop()
        receiver.stop()
