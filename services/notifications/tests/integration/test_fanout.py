"""Who is told what, against the real store: events applied through the service's handlers, inboxes read
through the HTTP API. The right people, the right message, the right language; nobody twice; preferences,
deactivation and erasure honoured; a big fan-out complete."""
from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from services.notifications import domain, services
from services.notifications.domain import followers_of
from services.notifications.repository import AUDIENCES, DELIVERIES, NOTIFICATIONS, PEOPLE, RECIPIENTS
from services.notifications.services import Notifications
from services.notifications.tests.conftest import apply, person_data, submitted_data, tell
from conftest import poll_until
from shared import outbox
from shared.events import registry
from shared.outbox import Publisher


def test_a_status_change_tells_the_author_and_each_follower_once_in_their_own_language(org):
    idea = org.idea("p1", followers=("p2", "p3", "staff_a"))
    org.move(idea, "under_review")
    [author] = org.inbox("p1")
    assert (author["message"], author["category"], author["idea_id"]) == (
        "idea.status_changed.author", "my_ideas", idea)
    assert author["title"] == "עדכון ברעיון שלכם" and "בבדיקה" in author["body"]
    assert "A quiet room for homework" in author["body"] and author["read"] is False
    [english] = org.inbox("p2")
    assert english["message"] == "idea.status_changed.follower"
    assert (english["title"], english["body"]) == ("News about an idea you follow",
                                                   "“A quiet room for homework” is now under review.")
    assert org.messages("p3") == ["idea.status_changed.follower"]
    # the author follows their idea but hears once, as the author; staff who moved it hear nothing of it
    assert org.messages("p1") == ["idea.status_changed.author"]
    assert "idea.status_changed.follower" not in org.messages("staff_a")


def test_volunteers_hear_when_the_idea_moves_to_in_progress_and_not_also_as_followers(org):
    idea = org.idea("p1", followers=("p2", "p3"))
    tell(org.db, "cocreate.volunteer.joined.v1", idea, {"idea_id": idea, "branch_id": org.a,
                                                        "person_id": org.ids["p2"], "note": "Tuesdays"})
    org.move(idea, "planned", previous="under_review")
    assert org.messages("p2") == ["idea.status_changed.follower"]  # not in progress yet: as a follower
    org.move(idea, "in_progress", previous="planned")
    newest = org.inbox("p2")[0]
    assert newest["message"] == "idea.in_progress.volunteer" and newest["category"] == "volunteering"
    assert newest["title"] == "The idea you volunteered for is starting"
    assert org.messages("p2").count("idea.status_changed.follower") == 1
    assert org.messages("p3") == ["idea.status_changed.follower"] * 2
    tell(org.db, "cocreate.volunteer.left.v1", idea, {"idea_id": idea, "branch_id": org.a,
                                                      "person_id": org.ids["p2"]})
    org.move(idea, "planned", previous="in_progress")
    org.move(idea, "in_progress", previous="planned")
    assert org.messages("p2").count("idea.in_progress.volunteer") == 1


def test_comments_tell_the_author_but_never_of_their_own_and_mentions_reach_the_staff_named(org):
    idea = org.idea("p1")

    def comment(who, official=False, mentions=()):
        tell(org.db, "cocreate.comment.posted.v1", idea, {
            "idea_id": idea, "branch_id": org.a, "comment_id": f"cm_{time.time_ns()}", "parent_id": None,
            "author_id": org.ids[who], "official": official, "mentions": [org.ids[m] for m in mentions],
            "text": "…"}, actor=org.ids[who])

    comment("p2")
    comment("p1")  # the author's own comment tells nobody
    assert org.messages("p1") == ["comment.posted.author"]
    comment("staff_a", official=True, mentions=("manager_a", "staff_a"))
    assert org.messages("p1") == ["comment.official.author", "comment.posted.author"]
    assert org.inbox("p1")[0]["title"] == "תגובה רשמית לרעיון שלכם"
    [mention] = [n for n in org.inbox("manager_a") if n["message"] == "comment.mention"]
    assert mention["title"] == "You were mentioned" and "A quiet room for homework" in mention["body"]
    assert "comment.mention" not in org.messages("staff_a")  # mentioning yourself tells you nothing


def test_a_new_idea_tells_the_staff_of_its_branch_and_an_organization_wide_one_the_org_admins(org):
    org.idea("p1", title="Shade in the yard")
    assert org.messages("staff_a") == ["idea.submitted.staff"] == org.messages("manager_a")
    assert org.inbox("staff_a")[0]["body"] == f'רעיון חדש בסניף A{org.run}: "Shade in the yard".'
    assert org.messages("staff_b") == [] and org.messages("admin") == []
    org.idea("p2", title="Longer opening hours", branch=None)
    assert org.inbox("admin")[0]["body"] == "A new idea for the whole organization: “Longer opening hours”."
    assert org.messages("staff_a") == ["idea.submitted.staff"]
    # staff entering a client's idea are not told of it; their colleagues are
    tell(org.db, "cocreate.idea.submitted.v1", "id_onbehalf" + org.run, submitted_data(
        "id_onbehalf" + org.run, org.a, None, "Evening hours", entered_by=org.ids["staff_a"]),
         actor=org.ids["staff_a"])
    assert org.messages("staff_a") == ["idea.submitted.staff"]
    assert org.messages("manager_a") == ["idea.submitted.staff"] * 2


def test_staff_roles_decide_whose_branch_news_a_person_hears_and_the_change_itself_always_reaches_them(org):
    staff_b = org.ids["staff_b"]
    # staff B moves to branch A; they turned every category off, but account messages are critical
    org.api.ok("PUT", "/preferences", org.tokens["staff_b"], json={"categories": {
        c: {"inapp": False} for c in ("my_ideas", "followed_ideas", "volunteering", "branch_activity")}})
    tell(org.db, "cocreate.person.roles_changed.v1", staff_b, person_data(
        staff_b, kind="staff", branch_roles={org.a: ["branch_staff"]}), actor=org.ids["admin"])
    [told] = org.inbox("staff_b")
    assert (told["message"], told["category"], told["title"]) == ("account.roles_changed", "account",
                                                                   "התפקידים שלכם עודכנו")
    org.api.ok("PUT", "/preferences", org.tokens["staff_b"], json={"categories": {}})
    org.idea("p1", branch="b")
    org.idea("p1", branch="a")
    assert org.messages("staff_b") == ["idea.submitted.staff", "account.roles_changed"]
    assert org.inbox("staff_b")[0]["body"].endswith(f'בסניף A{org.run}: "A quiet room for homework".')


def test_merges_and_adoptions_tell_the_author(org):
    keep, duplicate = org.idea("p2", title="Shade in the yard"), org.idea("p1", title="Shade for the yard")
    tell(org.db, "cocreate.idea.merged.v1", duplicate, {
        "idea_id": duplicate, "into_idea_id": keep, "branch_id": org.a, "moved_votes": 0, "moved_followers": 1,
        "moved_comments": 0, "by": org.ids["staff_a"]}, actor=org.ids["staff_a"])
    [merged] = org.inbox("p1")
    assert merged["idea_id"] == keep
    assert merged["body"] == ('הרעיון "Shade for the yard" אוחד עם הרעיון "Shade in the yard"; '
                              'התומכים והתגובות עברו אליו.')
    adoption = "id_adopt" + org.run
    tell(org.db, "cocreate.idea.submitted.v1", adoption, dict(
        submitted_data(adoption, org.b, org.ids["p2"], "Shade in the yard", entered_by=org.ids["staff_b"]),
        adopted_from=keep, status="planned"), actor=org.ids["staff_b"])
    tell(org.db, "cocreate.idea.adopted.v1", adoption, {
        "idea_id": adoption, "source_idea_id": keep, "branch_id": org.b, "source_branch_id": org.a,
        "owner_id": org.ids["staff_b"], "by": org.ids["staff_b"]}, actor=org.ids["staff_b"])
    [adopted] = org.inbox("p2")
    assert adopted["message"] == "idea.adopted.author" and adopted["idea_id"] == adoption
    assert adopted["body"] == f"Your idea “Shade in the yard” was adopted by Branch B{org.run} too."


def test_the_same_event_applied_again_notifies_nobody_twice_and_records_one_delivery(org):
    idea = org.idea("p1", followers=("p2", "p3"))
    event = org.move(idea, "under_review")
    records = lambda: list(org.db[DELIVERIES].find({"event_id": event.id}))  # noqa: E731
    assert [r["recipients"] for r in records()] and sorted(records()[0]["recipients"]) == sorted(
        org.ids[p] for p in ("p1", "p2", "p3"))
    for _ in range(2):
        apply(org.db, event)
    assert org.db[NOTIFICATIONS].count_documents({"event.id": event.id}) == 3
    assert len(records()) == 1 and len(records()[0]["_outbox"]) == 1
    assert org.messages("p2") == ["idea.status_changed.follower"]


def test_the_delivered_event_lists_each_notification_and_meets_the_contract(org):
    idea = org.idea("p1", followers=("p2",))
    event = org.move(idea, "under_review", correlation_id="req-42")
    [record] = org.db[DELIVERIES].find({"event_id": event.id})
    [entry] = record["_outbox"]
    delivered = json.loads(entry["value"])
    registry.validate(delivered)
    assert (entry["topic"], entry["key"], delivered["subject"]) == ("cocreate.notifications", record["_id"],
                                                                    record["_id"])
    assert delivered["data"]["source_event"] == {"id": event.id, "type": event.type, "subject": idea}
    told = {d["recipient_id"]: d for d in delivered["data"]["deliveries"]}
    assert set(told) == {org.ids["p1"], org.ids["p2"]}
    assert told[org.ids["p2"]]["notification_id"] == org.inbox("p2")[0]["id"]
    assert delivered["branchid"] == org.a and delivered["correlationid"] == "req-42"


def test_the_worker_publishes_the_delivered_event_right_after_the_write_without_a_relay(org, producer,
                                                                                       consumer_at_end):
    consumer = consumer_at_end("ideas", ["cocreate.notifications"])
    publisher = Publisher(lambda: producer, service="notifications")
    outbox.publish_at_once_by(publisher)  # as the worker does (OUTBOX_PUBLISH_AT_ONCE=workers, the default)
    idea = org.idea("p1")
    event = org.move(idea, "under_review")
    assert publisher.idle(timeout=10)
    [record] = org.db[DELIVERIES].find({"event_id": event.id})
    assert "_outbox" not in record and "_outbox_pending" not in record
    records = poll_until(consumer, lambda rs: any(r.key == record["_id"].encode() for r in rs), timeout=10)
    [published] = [json.loads(r.value) for r in records if r.key == record["_id"].encode()]
    assert published["data"]["source_event"]["id"] == event.id


def test_in_app_turned_off_means_nothing_in_the_inbox_whenever_it_was_chosen(org):
    off = {"categories": {"followed_ideas": {"inapp": False}}}
    org.api.ok("PUT", "/preferences", org.tokens["p2"], json=off)  # before following
    idea = org.idea("p1", followers=("p2", "p3"))
    org.api.ok("PUT", "/preferences", org.tokens["p3"], json=off)  # after following
    org.move(idea, "under_review")
    assert org.messages("p2") == [] and org.messages("p3") == []
    assert org.messages("p1") == ["idea.status_changed.author"]  # my_ideas is still on for the author
    org.api.ok("PUT", "/preferences", org.tokens["p3"], json={"categories": {}})
    org.move(idea, "planned", previous="under_review")
    assert org.messages("p3") == ["idea.status_changed.follower"] and org.messages("p2") == []


def test_critical_categories_cannot_be_turned_off(org):
    for body in ({"categories": {"account": {"inapp": False}}}, {"categories": {"account": {"email": False}}},
                 {"categories": {"account": {"email_frequency": "daily"}}}):
        refused = org.api.call("PUT", "/preferences", org.tokens["p1"], json=body)
        assert refused.status_code == 422 and refused.headers["Content-Type"].startswith("application/problem+json")
        assert "categories" in refused.json["errors"]["body"]
    assert org.api.ok("GET", "/preferences", org.tokens["p1"])["categories"]["account"] == {
        "inapp": True, "email": True, "webhook": False, "email_frequency": "instant", "critical": True}


def test_deactivated_people_are_not_told_and_reactivated_ones_are_again(org):
    idea = org.idea("p1", followers=("p3",))
    tell(org.db, "cocreate.person.deactivated.v1", org.ids["p3"], {"person_id": org.ids["p3"]})
    org.move(idea, "under_review")
    assert org.messages("p3") == []
    tell(org.db, "cocreate.person.updated.v1", org.ids["p3"], person_data(org.ids["p3"], home=org.a))
    org.move(idea, "planned", previous="under_review")
    assert org.messages("p3") == ["idea.status_changed.follower"]


def test_erasure_deletes_the_inbox_preferences_contact_data_and_delivery_records(org):
    p2 = org.ids["p2"]
    idea = org.idea("p2", followers=("p3",))
    org.api.ok("PUT", "/preferences", org.tokens["p2"], json={"categories": {"my_ideas": {"email": False}}})
    org.move(idea, "under_review", author="p2")
    assert org.messages("p2") == ["idea.status_changed.author"]
    assert org.db[DELIVERIES].count_documents({"recipients": p2}) == 1
    tell(org.db, "cocreate.person.erased.v1", p2, {"person_id": p2})
    assert org.db[NOTIFICATIONS].count_documents({"recipient": p2}) == 0
    assert org.db[AUDIENCES].count_documents({"members": p2}) == 0
    assert org.db[RECIPIENTS].find_one({"_id": p2})["audiences"] == []
    assert org.db[DELIVERIES].count_documents({"recipients": p2}) == 0
    assert org.db[DELIVERIES].count_documents({"recipients": org.ids["p3"]}) == 1  # others' records stay
    assert set(org.db[PEOPLE].find_one({"_id": p2})) == {"_id", "erased", "as_of"}  # a tombstone, no contact data
    assert org.db[RECIPIENTS].find_one({"_id": p2})["prefs"] is None
    assert org.db[RECIPIENTS].find_one({"_id": p2})["contact"] is None  # nor its copy of the address
    assert org.api.ok("GET", "/preferences", org.tokens["p2"])["categories"]["my_ideas"]["email"] is True
    # later events, even a late follow or an old profile, bring nothing back and tell them nothing
    org.follow(idea, "p2")
    tell(org.db, "cocreate.person.updated.v1", p2, person_data(p2, email="again@example.org"))
    org.move(idea, "planned", previous="under_review", author="p2")
    assert org.messages("p2") == [] and org.messages("p3") == ["idea.status_changed.follower"] * 2
    assert org.db[PEOPLE].find_one({"_id": p2}).get("email") is None


def test_an_idea_with_two_thousand_followers_tells_each_of_them_once(org):
    idea = org.idea("p1")
    followers = [f"pe_f{n:05d}{org.run}" for n in range(2000)]
    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:  # as several consumers would: joins of one group at the same time
        list(pool.map(lambda person_id: org.follow(idea, person_id), followers))
    followed = time.perf_counter() - started
    started = time.perf_counter()
    event = org.move(idea, "under_review")
    fanned = time.perf_counter() - started
    print(f"\n2,000 follows applied in {followed:.1f} s; the status change fanned out in {fanned:.2f} s")
    assert org.db[NOTIFICATIONS].count_documents({"event.id": event.id}) == 2001
    records = list(org.db[DELIVERIES].find({"event_id": event.id}))
    assert len(records) == 5 and max(len(r["recipients"]) for r in records) == 500
    told = [d["recipient_id"] for r in records for d in json.loads(r["_outbox"][0]["value"])["data"]["deliveries"]]
    assert sorted(told) == sorted(followers + [org.ids["p1"]])
    apply(org.db, event)
    assert org.db[NOTIFICATIONS].count_documents({"event.id": event.id}) == 2001
    assert org.db[DELIVERIES].count_documents({"event_id": event.id}) == 5


def test_messages_use_the_title_an_idea_has_when_the_event_happens(org):
    idea = org.idea("p1", followers=("p2",), title="Shade in the yard")
    org.move(idea, "under_review")
    tell(org.db, "cocreate.idea.edited.v1", idea, {
        "idea_id": idea, "branch_id": org.a, "title": "Trees in the yard", "description": "…", "tags": [],
        "age_groups": [], "population_groups": [], "edited_by": org.ids["p1"], "changed": ["title"]},
         actor=org.ids["p1"])
    org.move(idea, "planned", previous="under_review")
    assert [n["body"] for n in org.inbox("p2")] == ["“Trees in the yard” is now planned.",
                                                    "“Shade in the yard” is now under review."]



def test_profile_copies_end_up_as_the_latest_profile_when_joins_and_changes_race(org):
    """Joins (the worker) and preference changes (the API) at the same time, from several threads: every
    group the person is in ends up with their latest profile, which is what a fan-out reads."""
    s = Notifications.of(org.db)
    person = f"pe_racer{org.run}"
    groups = [followers_of(f"id_race{n}{org.run}") for n in range(16)]
    choices = [{"followed_ideas": {"inapp": n % 2 == 0}} for n in range(12)]

    def act(step):
        if isinstance(step, str):
            services.join(s, step, person)
        else:
            services.change_profile(s, person, prefs=domain.choose(step))

    steps = [step for n, group in enumerate(groups) for step in (group, *choices[n:n + 1])]  # interleaved
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(act, steps))
    latest = s.recipients.get(person)
    for group in groups:
        [copy] = [profile for member, profile in s.audiences.members(group) if member == person]
        assert domain.preferences(copy.prefs) == domain.preferences(latest.prefs) and copy.active
    assert sorted(s.recipients.get_with_audiences(person)[1]) == sorted(groups)


def test_a_flag_tells_the_staff_of_the_ideas_branch_with_the_participants_reason(org):
    idea = org.idea("p1", title="Shade in the yard")
    tell(org.db, "cocreate.idea.flagged.v1", idea, {
        "idea_id": idea, "branch_id": org.a, "target": "comment", "comment_id": "cm_x" + org.run,
        "reason": "personal details of a neighbour", "person_id": org.ids["p2"]}, actor=org.ids["p2"])
    [flagged] = [n for n in org.inbox("manager_a") if n["message"] == "idea.flagged.staff"]
    assert (flagged["title"], flagged["category"], flagged["idea_id"]) == (
        "Content was flagged", "branch_activity", idea)
    assert flagged["body"] == (f"A participant flagged content on “Shade in the yard” (Branch A{org.run}). It waits "
                               "in the moderation queue.\npersonal details of a neighbour")
    assert "idea.flagged.staff" in org.messages("staff_a")
    assert "idea.flagged.staff" not in org.messages("staff_b") + org.messages("p1") + org.messages("p2")


def survey_opened(org, idea: str | None, survey_id: str):
    return tell(org.db, "cocreate.survey.opened.v1", survey_id, {
        "survey_id": survey_id, "kind": "outcome" if idea else "survey", "scope": "branch", "branch_id": org.a,
        "program": None, "idea_id": idea, "region_id": None, "title": {"he": "איך עבד?", "en": "How did it work?"},
        "anonymous": False, "opens_at": "2026-11-30T14:05:00+00:00", "closes_at": "2026-12-31T22:00:00+00:00",
        "questions": 3,
        "invited": 3 if idea else None, "by": None})


def test_an_outcome_survey_asks_the_author_supporters_and_followers_once_each_but_not_the_staff(org):
    idea = org.idea("p1", title="Shade in the yard", followers=("p2", "staff_a"))
    for who in ("p3", "manager_a", "admin"):  # p3 supports without following; staff vote too
        tell(org.db, "cocreate.vote.cast.v1", idea, {"idea_id": idea, "branch_id": org.a, "person_id": org.ids[who]})
    tell(org.db, "cocreate.vote.cast.v1", idea, {"idea_id": idea, "branch_id": org.a, "person_id": org.ids["p2"]})
    tell(org.db, "cocreate.vote.withdrawn.v1", idea, {"idea_id": idea, "branch_id": org.a,
                                                       "person_id": org.ids["admin"]})
    survey_opened(org, None, "sv_branch" + org.run)  # a branch's own survey invites nobody by notification
    assert org.messages("p1") == org.messages("p3") == []
    opened = survey_opened(org, idea, "sv_" + idea)
    [author] = org.inbox("p1")
    assert (author["message"], author["category"], author["idea_id"]) == ("survey.outcome.author", "my_feedback", idea)
    assert author["body"] == 'הרעיון שלכם "Shade in the yard" בוצע. ספרו לנו אם הוא עזר: השאלון פתוח עכשיו.'
    assert org.messages("p2") == ["survey.outcome.supporter"]  # supporter and follower: told once
    assert org.inbox("p2")[0]["title"] == "How did the idea you supported work out?"
    assert org.messages("p3") == ["survey.outcome.supporter"]
    for staff in ("staff_a", "manager_a"):  # the branch's staff carried it out: not asked to rate it
        assert "survey.outcome.supporter" not in org.messages(staff)
    assert org.messages("admin") == []  # withdrew the vote
    apply(org.db, opened)  # redelivered
    assert len(org.inbox("p3")) == 1


def feedback_submitted(org, *, answers: list, person: str | None = "p1") -> None:
    feedback_id = f"rs_{uuid.uuid4().hex[:16]}"
    tell(org.db, "cocreate.feedback.submitted.v1", feedback_id, {
        "feedback_id": feedback_id, "kind": "survey", "survey_id": "sv_x", "idea_id": None, "branch_id": org.a,
        "region_id": None, "program": None, "channel": "web", "anonymous": person is None,
        "person_id": org.ids[person] if person else None, "entered_by": None, "age_group": None,
        "population_group": None, "answers": answers, "has_text": any(a["type"] == "text" for a in answers),
        "submitted_at": "2026-11-30T14:05:00+00:00"}, actor=org.ids[person] if person else None)


def test_a_low_score_tells_the_branchs_staff_with_what_the_client_wrote(org):
    feedback_submitted(org, answers=[{"question_id": "q1", "type": "csat", "value": 3},
                                     {"question_id": "q2", "type": "nps", "value": 5}])
    assert org.messages("manager_a") == []  # 3 of 5 and 5 of 10 are not low
    feedback_submitted(org, answers=[{"question_id": "q1", "type": "csat", "value": 4},
                                     {"question_id": "q2", "type": "nps", "value": 2},
                                     {"question_id": "q3", "type": "text", "value": "The queue took two hours."}])
    [low] = org.inbox("manager_a")
    assert (low["message"], low["category"], low["title"]) == ("feedback.low_score.staff", "branch_activity",
                                                               "A low feedback score")
    assert low["body"] == f"A client at Branch A{org.run} gave a score of 2 out of 10.\nThe queue took two hours."
    feedback_submitted(org, person=None, answers=[{"question_id": "rating", "type": "csat", "value": 1}])
    assert org.inbox("staff_a")[0]["body"] == f"לקוח בסניף A{org.run} נתן ציון 1 מתוך 5."
    assert org.messages("staff_b") == [] and org.messages("p1") == []


def test_a_reply_to_feedback_reaches_its_respondent_with_the_staffs_words(org):
    def replied(person: str) -> None:
        tell(org.db, "cocreate.feedback.replied.v1", "rs_r" + org.run, {
            "feedback_id": "rs_r" + org.run, "reply_id": f"rp_{uuid.uuid4().hex[:16]}", "kind": "quick",
            "survey_id": None, "branch_id": org.a, "person_id": org.ids[person],
            "by": org.ids["staff_a"], "text": "Thank you! A second desk opens in the mornings.",
            "replied_at": "2026-11-30T14:05:00+00:00"}, actor=org.ids["staff_a"])

    replied("p2")
    [reply] = org.inbox("p2")
    assert (reply["message"], reply["category"], reply["title"]) == (
        "feedback.replied.respondent", "my_feedback", "Staff answered your feedback")
    assert reply["body"] == "Staff read what you wrote and answered:\nThank you! A second desk opens in the mornings."
    assert org.messages("staff_a") == [] and org.messages("p1") == []
