"""A branch's spread and ambassadors against the real store, from the ideas' events as feedback's handlers apply
them: where its implemented ideas were adopted, what it adopted, whose ideas it implemented, who volunteers
(staff left out, a redelivered event counting once, the erased gone); for the branch's staff only."""
from __future__ import annotations

from conftest import PageVisitor, text_of
from services.feedback.tests.conftest import apply, days_ago, idea_submitted, status_changed, tell


def implemented(org, idea: str, author: str) -> None:
    staff = org.ids["staff_a"]
    tell(org.db, "cocreate.idea.submitted.v1", idea, idea_submitted(idea, org.a, org.region, org.ids[author], days_ago(30)))
    previous = "submitted"
    for to in ("under_review", "planned", "in_progress", "implemented"):
        tell(org.db, "cocreate.idea.status_changed.v1", idea,
             status_changed(idea, org.a, previous, to, days_ago(20), staff, org.ids[author]))
        previous = to


def adopted(org, source: str, adoption: str, branch: str) -> None:
    data = dict(idea_submitted(adoption, branch, org.region, None, days_ago(5), status="planned"), adopted_from=source)
    tell(org.db, "cocreate.idea.submitted.v1", adoption, data)


def volunteer(org, idea: str, who: str, joined: bool = True):
    return tell(org.db, f"cocreate.volunteer.{'joined' if joined else 'left'}.v1", idea, {
        "idea_id": idea, "branch_id": org.a, "person_id": org.ids[who], **({"note": None} if joined else {})})


def test_spread_ambassadors_and_volunteers_of_a_branch(org, feedback_app):
    first, second, third = (f"id_amb{n}{org.a}" for n in range(3))
    implemented(org, first, "p1")
    implemented(org, second, "p1")
    implemented(org, third, "p2")
    adopted(org, first, f"id_adB{org.a}", org.b)
    adopted(org, first, f"id_adX{org.a}", f"br_x{org.a}")
    adopted(org, third, f"id_adB3{org.a}", org.b)
    tell(org.db, "cocreate.idea.submitted.v1", f"id_in{org.a}",  # branch A adopted one from elsewhere
         dict(idea_submitted(f"id_in{org.a}", org.a, org.region, None, days_ago(2), status="planned"),
              adopted_from="id_elsewhere"))
    for who in ("p3", "p4", "staff_a"):
        volunteer(org, first, who)
    event = volunteer(org, second, "p3")
    apply(org.db, event)  # redelivered: still one
    volunteer(org, third, "p4")
    volunteer(org, third, "p4", joined=False)

    found = org.api.ok("GET", "/insights/ambassadors", org.tokens["staff_a"], query_string={"branch_id": org.a})
    assert [(row["idea_id"], row["adoptions"], row["branches"]) for row in found["spread"]] == [
        (first, 2, sorted([org.b, f"br_x{org.a}"])), (third, 1, [org.b])]
    assert found["adopted_from_elsewhere"] == 1
    assert [(a["person_id"], a["name"], a["ideas_implemented"]) for a in found["ambassadors"]] == [
        (org.ids["p1"], org.ids["p1"], 2), (org.ids["p2"], org.ids["p2"], 1)]
    assert [(v["person_id"], v["ideas"]) for v in found["volunteers"]] == [(org.ids["p3"], 2), (org.ids["p4"], 1)]

    for lang, said in (("en", "adopted by 2 branches"), ("he", "אומץ ב־2 סניפים")):  # the staff's dashboard
        page = text_of(PageVisitor(feedback_app[0], "/feedback", org.tokens["staff_a"], lang).page(
            f"/dashboard?branch_id={org.a}"))
        assert said in page and f"{org.ids['p1']}: " in page and org.ids["staff_a"] not in page

    tell(org.db, "cocreate.person.erased.v1", org.ids["p3"], {"person_id": org.ids["p3"]})
    after = org.api.ok("GET", "/insights/ambassadors", org.tokens["staff_a"], query_string={"branch_id": org.a})
    assert [v["person_id"] for v in after["volunteers"]] == [org.ids["p4"]]

    for who in ("staff_b", "p1"):
        assert org.api.call("GET", "/insights/ambassadors", org.tokens[who],
                            query_string={"branch_id": org.a}).status_code == 403
    assert org.api.call("GET", "/insights/ambassadors", org.tokens["staff_a"],
                        query_string="branch_id[$ne]=1").status_code == 422  # no operators, only a branch id
    assert org.api.call("GET", "/insights/ambassadors", org.tokens["admin"],
                        query_string={"branch_id": "br_nowhere"}).status_code == 404
