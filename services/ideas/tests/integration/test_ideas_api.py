"""The ideas service through its HTTP API, against the real store: submit, votes, dialogue, lifecycle, merge,
adoption, follow, volunteers, moderation, browse and search; who may do what; bad input; the events stored."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from services.ideas.tests.conftest import tell


def test_a_participant_submits_and_reads_an_idea_with_its_history(org):
    idea = org.submit(tags=["Homework", "youth"], age_groups=["under_18"], population_groups=["families"])
    assert idea["status"] == "submitted" and idea["scope"] == "branch" and idea["region_id"] == org.region
    assert idea["tags"] == ["homework", "youth"] and idea["author_id"] == org.ids["p1"]
    assert [h["status"] for h in idea["history"]] == ["submitted"]
    assert idea["counts"] == {"votes": 0, "followers": 1, "comments": 0, "volunteers": 0}
    assert idea["me"] == {"voted": False, "following": True, "volunteering": False, "can_manage": False}
    read = org.api.ok("GET", f"/ideas/{idea['id']}", org.tokens["staff_a"])
    assert read["title"] == "A quiet room for homework" and read["me"]["can_manage"] is True
    assert org.outbox_types(idea["id"]) == ["cocreate.idea.followed.v1", "cocreate.idea.submitted.v1"]


def test_staff_enter_a_clients_idea_only_with_the_clients_consent(org):
    body = {"title": "Evening hours", "description": "Open until 20:00 on Tuesdays.", "branch_id": org.a,
            "channel": "phone"}
    refused = org.api.call("POST", "/ideas", org.tokens["staff_a"], json=dict(body, on_behalf_of={"name": "Moshe",
                                                                                                  "consent": False}))
    assert refused.status_code == 422 and refused.json["errors"]["body"]["on_behalf_of"]
    idea = org.api.ok("POST", "/ideas", org.tokens["staff_a"], 201,
                      json=dict(body, on_behalf_of={"name": "Moshe", "consent": True}))
    assert (idea["channel"], idea["author_id"], idea["author_name"], idea["entered_by"]) == (
        "phone", None, "Moshe", org.ids["staff_a"])
    # staff of another branch cannot enter ideas for this one; participants cannot claim other channels
    assert org.api.call("POST", "/ideas", org.tokens["staff_b"], json=dict(body, on_behalf_of={
        "consent": True})).status_code == 403
    assert org.api.call("POST", "/ideas", org.tokens["p1"], json=body).status_code == 422


@pytest.mark.parametrize("body, field", [
    ({"title": 5}, "title"),
    ({"title": "ok title", "description": {"$gt": ""}}, None),
    ({"title": "x" * 141}, "title"),
    ({"description": "y" * 10_001}, "description"),
    ({"branch_id": "br_nope"}, "branch_id"),
    ({"tags": ["a"] * 9}, "tags"),
    ({"age_groups": ["toddlers"]}, "age_groups"),
    ({"channel": "fax"}, "channel"),
    ({"surprise": 1}, "surprise"),
])
def test_bad_input_is_refused_with_a_problem_and_changes_nothing(org, body, field):
    before = org.db["ideas"].count_documents({})
    full = {"title": "A fine title", "description": "Fine.", "branch_id": org.a, **body}
    response = org.api.call("POST", "/ideas", org.tokens["p1"], json=full)
    assert response.status_code in (400, 422), response.json
    assert response.headers["Content-Type"].startswith("application/problem+json")
    if field:
        assert field in response.json.get("errors", {}).get("body", {}), response.json
    assert org.db["ideas"].count_documents({}) == before


def test_unknown_ids_are_404_problems(org):
    for method, path in (("GET", "/ideas/id_0000000000000000"), ("PUT", "/ideas/id_0000000000000000/vote"),
                         ("GET", "/ideas/id_0000000000000000/comments")):
        response = org.api.call(method, path, org.tokens["p1"])
        assert response.status_code == 404 and response.json["status"] == 404
    assert org.api.call("GET", "/ideas").status_code == 401


def test_votes_stay_exact_under_concurrent_and_repeated_votes(org):
    idea = org.submit()
    org.clear_outboxes()
    voters = ["p1", "p2", "p3", "staff_a", "staff_b", "manager_a", "admin"]

    def vote(who):
        return org.api.call("PUT", f"/ideas/{idea['id']}/vote", org.tokens[who]).status_code

    with ThreadPoolExecutor(12) as pool:  # every voter votes five times at once
        assert set(pool.map(vote, voters * 5)) == {200}
    doc = org.db["ideas"].find_one({"_id": idea["id"]})
    assert doc["votes"] == len(voters) == org.db["votes"].count_documents({"idea_id": idea["id"], "active": True})

    def withdraw(who):
        return org.api.call("DELETE", f"/ideas/{idea['id']}/vote", org.tokens[who]).status_code

    with ThreadPoolExecutor(8) as pool:  # two withdraw four times each, while two others vote again
        codes = list(pool.map(lambda w: withdraw(w) if w in ("p2", "p3") else vote(w), ["p2", "p3", "p1", "admin"] * 4))
    assert set(codes) == {200}
    read = org.api.ok("GET", f"/ideas/{idea['id']}", org.tokens["p2"])
    assert read["counts"]["votes"] == len(voters) - 2 and read["me"]["voted"] is False
    types = org.outbox_types(idea["id"])
    assert types.count("cocreate.vote.cast.v1") == len(voters)
    assert types.count("cocreate.vote.withdrawn.v1") == 2
    # the author followed on submit; six voters started following by voting
    assert types.count("cocreate.idea.followed.v1") == len(voters) - 1
    assert read["counts"]["followers"] == len(voters)


def test_the_lifecycle_moves_only_along_allowed_transitions_by_the_branchs_staff(org):
    idea = org.submit()
    url = f"/ideas/{idea['id']}/status"
    assert org.api.call("POST", url, org.tokens["p1"], json={"status": "under_review"}).status_code == 403
    assert org.api.call("POST", url, org.tokens["staff_b"], json={"status": "under_review"}).status_code == 403
    illegal = org.api.call("POST", url, org.tokens["staff_a"], json={"status": "implemented"})
    assert illegal.status_code == 422 and "status" in illegal.json["errors"]["body"]
    for status in ("under_review", "planned", "in_progress"):
        org.api.ok("POST", url, org.tokens["staff_a"], json={"status": status, "note": f"now {status}"})
    no_reason = org.api.call("POST", url, org.tokens["manager_a"], json={"status": "declined", "note": "why"})
    assert no_reason.status_code == 422 and "reason_code" in no_reason.json["errors"]["body"]
    done = org.api.ok("POST", url, org.tokens["admin"], json={"status": "implemented"})
    assert [h["status"] for h in done["history"]] == ["submitted", "under_review", "planned", "in_progress",
                                                      "implemented"]
    assert done["history"][1]["by"] == org.ids["staff_a"] and done["history"][1]["note"] == "now under_review"
    assert set(done["durations"]) == {"submitted", "under_review", "planned", "in_progress"}
    assert all(v >= 0 for v in done["durations"].values())
    assert "me" not in done  # a staff action answers with the idea alone (what the viewer did is for reads)
    closed = org.api.call("PUT", f"/ideas/{idea['id']}/vote", org.tokens["p2"])
    assert closed.status_code == 422  # voting closed once implemented
    assert org.outbox_types(idea["id"]).count("cocreate.idea.status_changed.v1") == 4


def test_a_decline_carries_a_reason_and_a_note_and_can_be_reopened(org):
    idea = org.submit()
    url = f"/ideas/{idea['id']}/status"
    declined = org.api.ok("POST", url, org.tokens["staff_a"], json={
        "status": "declined", "reason_code": "budget", "note": "No budget this year."})
    assert declined["history"][-1]["reason_code"] == "budget"
    assert org.api.call("PUT", f"/ideas/{idea['id']}/vote", org.tokens["p2"]).status_code == 422
    org.api.ok("POST", url, org.tokens["staff_a"], json={"status": "under_review", "note": "New budget."})


def test_org_wide_ideas_are_managed_by_org_staff(org):
    idea = org.submit(branch_id=None)
    assert idea["scope"] == "org" and idea["branch_id"] is None
    url = f"/ideas/{idea['id']}/status"
    assert org.api.call("POST", url, org.tokens["manager_a"], json={"status": "under_review"}).status_code == 403
    org.api.ok("POST", url, org.tokens["admin"], json={"status": "under_review"})


def test_dialogue_threads_official_responses_mentions_and_edits(org):
    idea = org.submit()
    base = f"/ideas/{idea['id']}/comments"
    question = org.api.ok("POST", base, org.tokens["p2"], 201, json={
        "text": "Could @Dana look at this?", "mentions": [org.ids["staff_a"]]})
    assert org.api.call("POST", base, org.tokens["p2"], json={"text": "x", "official": True}).status_code == 403
    assert org.api.call("POST", base, org.tokens["p2"], json={
        "text": "hi", "mentions": [org.ids["p3"]]}).json["errors"]["body"]["mentions"]
    answer = org.api.ok("POST", base, org.tokens["staff_a"], 201, json={
        "text": "We will check the rooms.", "official": True, "parent_id": question["id"]})
    reply = org.api.ok("POST", base, org.tokens["p2"], 201, json={"text": "Thanks!", "parent_id": answer["id"]})
    assert org.api.call("POST", base, org.tokens["p2"], json={"text": "x", "parent_id": "cm_nope"}).status_code == 422
    assert org.api.call("PATCH", f"{base}/{reply['id']}", org.tokens["p3"], json={"text": "no"}).status_code == 403
    edited = org.api.ok("PATCH", f"{base}/{reply['id']}", org.tokens["p2"], json={"text": "Thanks a lot!"})
    assert edited["edited_at"] is not None and edited["text"] == "Thanks a lot!"
    listed = org.api.ok("GET", base, org.tokens["p1"])["items"]
    assert [(c["id"], c["parent_id"], c["official"]) for c in listed] == [
        (question["id"], None, False), (answer["id"], question["id"], True), (reply["id"], answer["id"], False)]
    assert org.api.ok("GET", f"/ideas/{idea['id']}", org.tokens["p1"])["counts"]["comments"] == 3
    types = org.outbox_types(idea["id"])
    assert types.count("cocreate.comment.posted.v1") == 3 and types.count("cocreate.comment.edited.v1") == 1
    mentionable = org.api.ok("GET", f"/ideas/{idea['id']}/mentionable", org.tokens["p2"])["items"]
    assert {p["id"] for p in mentionable} == {org.ids["staff_a"], org.ids["manager_a"]}


def test_merging_moves_supporters_followers_and_comments_without_counting_anyone_twice(org):
    keep, dup = org.submit(title="Shade in the yard"), org.submit("p2", title="Shade for the yard")
    for who in ("p2", "p3"):
        org.api.ok("PUT", f"/ideas/{keep['id']}/vote", org.tokens[who])
    for who in ("p1", "p3", "staff_a"):  # p3 supports both: counted once after the merge
        org.api.ok("PUT", f"/ideas/{dup['id']}/vote", org.tokens[who])
    org.api.ok("POST", f"/ideas/{dup['id']}/comments", org.tokens["p3"], 201, json={"text": "Trees please"})
    assert org.api.call("POST", f"/ideas/{dup['id']}/merge", org.tokens["staff_b"],
                        json={"into_idea_id": keep["id"]}).status_code == 403
    merged = org.api.ok("POST", f"/ideas/{dup['id']}/merge", org.tokens["staff_a"], json={"into_idea_id": keep["id"]})
    assert merged["status"] == "merged" and merged["merged_into"] == keep["id"]
    survivor = org.api.ok("GET", f"/ideas/{keep['id']}", org.tokens["p1"])
    assert survivor["counts"]["votes"] == 4  # p2, p3, p1, staff_a
    assert survivor["counts"]["followers"] == 4  # p1, p2, p3, staff_a: each once, from either idea
    assert survivor["counts"]["comments"] == 1 and survivor["merged_from"] == [dup["id"]]
    assert survivor["me"]["voted"] is True
    assert org.api.call("PUT", f"/ideas/{dup['id']}/vote", org.tokens["p1"]).status_code == 422
    events = org.outbox_types(dup["id"])
    assert events.count("cocreate.idea.merged.v1") == 1
    # undo: everything goes back where it was
    back = org.api.ok("DELETE", f"/ideas/{dup['id']}/merge", org.tokens["staff_a"])
    assert back["status"] == "submitted" and back["merged_into"] is None
    assert back["counts"]["votes"] == 3 and back["counts"]["comments"] == 1
    survivor = org.api.ok("GET", f"/ideas/{keep['id']}", org.tokens["p1"])
    assert survivor["counts"]["votes"] == 2 and survivor["counts"]["comments"] == 0
    assert survivor["merged_from"] == [] and [h["status"] for h in back["history"]][-2:] == ["merged", "submitted"]
    assert org.outbox_types(dup["id"]).count("cocreate.idea.unmerged.v1") == 1


def test_another_branch_adopts_an_implemented_idea_and_the_idea_shows_where_it_spread(org):
    idea = org.submit()
    url = f"/ideas/{idea['id']}"
    early = org.api.call("POST", f"{url}/adoptions", org.tokens["staff_b"], json={"branch_id": org.b})
    assert early.status_code == 422  # not implemented yet
    for status in ("under_review", "planned", "in_progress", "implemented"):
        org.api.ok("POST", f"{url}/status", org.tokens["staff_a"], json={"status": status})
    assert org.api.call("POST", f"{url}/adoptions", org.tokens["staff_a"],
                        json={"branch_id": org.b}).status_code == 403  # staff of A cannot adopt for B
    adoption = org.api.ok("POST", f"{url}/adoptions", org.tokens["staff_b"], 201, json={"branch_id": org.b})
    assert (adoption["branch_id"], adoption["status"], adoption["owner_id"]) == (org.b, "planned", org.ids["staff_b"])
    assert adoption["adopted_from"] == {"idea_id": idea["id"], "branch_id": org.a}
    assert org.api.call("POST", f"{url}/adoptions", org.tokens["staff_b"], json={"branch_id": org.b}).status_code == 409
    assert org.api.ok("GET", f"{url}/adoptions", org.tokens["p1"])["items"] == [
        {"idea_id": adoption["id"], "branch_id": org.b}]
    # the adoption has its own lifecycle, moved by the adopting branch
    org.api.ok("POST", f"/ideas/{adoption['id']}/status", org.tokens["staff_b"], json={"status": "in_progress"})
    assert org.api.call("POST", f"/ideas/{adoption['id']}/status", org.tokens["staff_a"],
                        json={"status": "implemented"}).status_code == 403
    assert org.outbox_types(adoption["id"]) == ["cocreate.idea.adopted.v1", "cocreate.idea.status_changed.v1",
                                                "cocreate.idea.submitted.v1"]


def test_follow_and_volunteer(org):
    idea = org.submit()
    url = f"/ideas/{idea['id']}"
    org.api.ok("PUT", f"{url}/follow", org.tokens["p2"], 204)
    org.api.ok("PUT", f"{url}/follow", org.tokens["p2"], 204)
    org.api.ok("DELETE", f"{url}/follow", org.tokens["p1"], 204)
    org.api.ok("POST", f"{url}/volunteers", org.tokens["p3"], 204, json={"note": "I can paint"})
    org.api.ok("POST", f"{url}/volunteers", org.tokens["p3"], 204, json={})
    read = org.api.ok("GET", url, org.tokens["p3"])
    assert read["counts"]["followers"] == 2 and read["counts"]["volunteers"] == 1  # p2, and p3 by volunteering
    assert read["me"]["volunteering"] and read["me"]["following"]
    assert org.api.call("GET", f"{url}/volunteers", org.tokens["p1"]).status_code == 403
    listed = org.api.ok("GET", f"{url}/volunteers", org.tokens["staff_a"])
    assert [(v["person_id"], v["note"]) for v in listed["items"]] == [(org.ids["p3"], "I can paint")]
    types = org.outbox_types(idea["id"])
    assert types.count("cocreate.idea.followed.v1") == 3 and types.count("cocreate.idea.unfollowed.v1") == 1
    assert types.count("cocreate.volunteer.joined.v1") == 1


def test_flagged_content_waits_for_the_branchs_staff_who_hide_or_restore_it(org):
    idea = org.submit(title="Something rude here")
    comment = org.api.ok("POST", f"/ideas/{idea['id']}/comments", org.tokens["p2"], 201, json={"text": "rude words"})
    assert org.api.ok("POST", f"/ideas/{idea['id']}/flags", org.tokens["p3"], 201, json={"reason": "rude"})["flagged"]
    assert not org.api.ok("POST", f"/ideas/{idea['id']}/flags", org.tokens["p3"], 201, json={"reason": "again"})["flagged"]
    org.api.ok("POST", f"/ideas/{idea['id']}/flags", org.tokens["p1"], 201,
               json={"reason": "insult", "comment_id": comment["id"]})
    assert org.api.call("GET", f"/moderation?branch_id={org.a}", org.tokens["p1"]).status_code == 403
    assert org.api.call("GET", f"/moderation?branch_id={org.a}", org.tokens["staff_b"]).status_code == 403
    queue = org.api.ok("GET", f"/moderation?branch_id={org.a}", org.tokens["staff_a"])["items"]
    assert {(i["target_id"], i["kind"]) for i in queue} == {(idea["id"], "idea"), (comment["id"], "comment")}
    org.api.ok("POST", f"/moderation/{comment['id']}", org.tokens["staff_a"], json={"action": "hide", "reason": "insult"})
    org.api.ok("POST", f"/moderation/{idea['id']}", org.tokens["staff_a"], json={"action": "hide", "reason": "rude"})
    assert org.api.call("GET", f"/ideas/{idea['id']}", org.tokens["p3"]).status_code == 404
    assert org.api.ok("GET", f"/ideas/{idea['id']}", org.tokens["staff_a"])["hidden"] is True
    assert idea["id"] not in [c["id"] for c in org.api.ok("GET", f"/ideas?branch_id={org.a}", org.tokens["p3"])["items"]]
    assert org.api.ok("GET", f"/moderation?branch_id={org.a}", org.tokens["staff_a"])["items"] == []
    org.api.ok("POST", f"/moderation/{idea['id']}", org.tokens["manager_a"], json={"action": "restore", "reason": "ok"})
    assert org.api.ok("GET", f"/ideas/{idea['id']}/comments", org.tokens["p3"])["items"] == []  # comment still hidden
    assert len(org.api.ok("GET", f"/ideas/{idea['id']}/comments", org.tokens["staff_a"])["items"]) == 1
    types = org.outbox_types(idea["id"])
    assert types.count("cocreate.idea.hidden.v1") == 2 and types.count("cocreate.idea.restored.v1") == 1
    assert types.count("cocreate.idea.flagged.v1") == 2  # a person's second flag on the same idea is no news


def test_browse_filters_sorts_searches_in_hebrew_and_english_and_pages_with_a_cursor(org):
    tag = f"t{org.a[-6:]}"
    garden = org.submit(title="גינה קהילתית בחצר", description="נשתול ירקות עם הילדים", tags=[tag])
    library = org.submit("p2", title="Library corner", description="Books for children and parents", tags=[tag])
    hours = org.submit("p3", title="Longer opening hours", description="Open the library on Fridays", tags=[tag],
                       age_groups=["65_plus"])
    org.api.ok("PUT", f"/ideas/{hours['id']}/vote", org.tokens["p1"])
    org.api.ok("PUT", f"/ideas/{hours['id']}/vote", org.tokens["p2"])
    org.api.ok("PUT", f"/ideas/{library['id']}/vote", org.tokens["p1"])

    def ids(query, who="p1"):
        return [c["id"] for c in org.api.ok("GET", f"/ideas?{query}", org.tokens[who])["items"]]

    assert ids(f"tag={tag}&sort=top") == [hours["id"], library["id"], garden["id"]]
    assert ids(f"tag={tag}&sort=newest") == [hours["id"], library["id"], garden["id"]]
    assert ids(f"tag={tag}&q=library") == [hours["id"], library["id"]]
    assert ids(f"tag={tag}&q=libr") == [hours["id"], library["id"]]  # while typing: a word's beginning
    assert ids(f"tag={tag}&q=library+fridays") == [hours["id"]]
    assert ids(f"tag={tag}&q=בגינה") == [garden["id"]]  # a prefixed Hebrew word finds the plain one
    assert ids(f"tag={tag}&q=ירקו") == [garden["id"]]
    assert ids(f"tag={tag}&age_group=65_plus") == [hours["id"]]
    assert ids(f"region_id={org.region}&author_id={org.ids['p2']}") == [library["id"]]
    first = org.api.ok("GET", f"/ideas?tag={tag}&sort=top&limit=2", org.tokens["p1"])
    assert [c["id"] for c in first["items"]] == [hours["id"], library["id"]] and first["next_cursor"]
    rest = org.api.ok("GET", f"/ideas?tag={tag}&sort=top&limit=2&after={first['next_cursor']}", org.tokens["p1"])
    assert [c["id"] for c in rest["items"]] == [garden["id"]] and rest["next_cursor"] is None
    assert set(ids(f"tag={tag}&sort=trending")) == {garden["id"], library["id"], hours["id"]}
    assert org.api.call("GET", "/ideas?sort=random", org.tokens["p1"]).status_code == 422
    similar = org.api.ok("GET", "/ideas/similar?text=a+library+for+kids", org.tokens["p1"])["items"]
    assert library["id"] in [c["id"] for c in similar]


def test_an_erased_person_is_anonymized_and_their_vote_stays_counted(org):
    idea = org.submit("p2")
    org.api.ok("PUT", f"/ideas/{idea['id']}/vote", org.tokens["p2"])
    org.api.ok("PUT", f"/ideas/{idea['id']}/vote", org.tokens["p3"])
    org.api.ok("POST", f"/ideas/{idea['id']}/comments", org.tokens["p2"], 201, json={"text": "my words"})
    tell(org.db, "cocreate.person.erased.v1", org.ids["p2"], {"person_id": org.ids["p2"]})
    read = org.api.ok("GET", f"/ideas/{idea['id']}", org.tokens["p3"])
    assert read["author_id"] is None and read["author_name"] == ""
    assert read["history"][0]["by"] is None and read["history"][0]["by_name"] == ""
    assert read["counts"]["votes"] == 2 and read["counts"]["followers"] == 1
    comments = org.api.ok("GET", f"/ideas/{idea['id']}/comments", org.tokens["p3"])["items"]
    assert comments[0]["author_id"] is None and comments[0]["author_name"] == ""
    assert org.db["votes"].count_documents({"person_id": org.ids["p2"]}) == 0
    assert org.db["follows"].count_documents({"person_id": org.ids["p2"]}) == 0
    # a redelivered erasure changes nothing
    tell(org.db, "cocreate.person.erased.v1", org.ids["p2"], {"person_id": org.ids["p2"]})
    assert org.api.ok("GET", f"/ideas/{idea['id']}", org.tokens["p3"])["counts"]["votes"] == 2


def test_recount_sets_a_counter_left_wrong_by_a_crash_between_two_writes(org):
    from services.ideas.maintenance import recount

    idea = org.submit()
    org.api.ok("PUT", f"/ideas/{idea['id']}/vote", org.tokens["p2"])
    org.db["ideas"].update_one({"_id": idea["id"]}, {"$inc": {"votes": 5, "followers": -1}})  # as if crashed
    assert recount(org.db, [idea["id"]]) == 1
    counts = org.api.ok("GET", f"/ideas/{idea['id']}", org.tokens["p1"])["counts"]
    assert (counts["votes"], counts["followers"]) == (1, 2)
    assert recount(org.db, [idea["id"]]) == 0
