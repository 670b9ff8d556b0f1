"""The organization's comparison of branches against the real store: known answers and idea histories at two
branches give known rows, under the privacy threshold; the packs are what a view reads (a minute behind, by
the worker's housekeeping); a rebuild gives the same rows; only org admins compare."""
from __future__ import annotations

from datetime import timedelta

from services.feedback import services
from services.feedback.maintenance import rebuild_insights
from services.feedback.services import months_back
from services.feedback.tests.conftest import days_ago, idea_submitted, status_changed, tell
from services.feedback.tests.integration.test_exports import table


def _compare(org, **query) -> dict:
    query.setdefault("region_id", org.region)
    return org.api.ok("GET", "/insights/branches", org.tokens["admin"], query_string=query)


def _rows(view: dict) -> dict[str, dict]:
    return {row["branch_id"]: row for row in view["branches"]}


def _pack(org) -> None:
    """The worker's housekeeping (once a minute), and the web process's rows of the last pack forgotten (as
    they are after comparison.ROWS_SECONDS)."""
    services.pack_comparison(services.Feedback.of(org.db))
    org.api.client.application.extensions["feedback_cubes"].clear()


def _implement(org, idea: str, submitted_days_ago: float, planned_after: float, done_after: float) -> None:
    start, staff = days_ago(submitted_days_ago), org.ids["staff_a"]
    tell(org.db, "cocreate.idea.submitted.v1", idea, idea_submitted(idea, org.a, org.region, org.ids["p1"], start),
         at=start)
    moments = [("submitted", "planned", start + timedelta(days=planned_after)),
               ("planned", "implemented", start + timedelta(days=planned_after + done_after))]
    for frm, to, at in moments:
        tell(org.db, "cocreate.idea.status_changed.v1", idea, status_changed(idea, org.a, frm, to, at, staff), at=at)


def test_two_branches_side_by_side_with_known_figures_and_the_privacy_threshold(org):
    at_a = org.survey()
    for who, csat, nps in zip(("p1", "p2", "p3", "p4", "p5"), (5, 4, 4, 3, 5), (10, 9, 7, 5, 9)):
        org.answer(who, at_a["id"], {"q1": csat, "q2": nps})
    at_b = org.survey("staff_b", branch_id=org.b)
    for who in ("p6", "p7"):  # two people: B's survey figures stay hidden
        org.answer(who, at_b["id"], {"q1": 1, "q2": 0})
    for n, (planned, done) in enumerate([(2, 10), (3, 20), (1, 30)]):
        _implement(org, f"id_cmp{n}{org.a}", 40, planned, done)
    _pack(org)

    view = _compare(org, months=",".join(months_back(3)), sort="csat")
    assert view["threshold"] == 5 and view["as_of"]
    assert [row["branch_id"] for row in view["branches"]] == [org.a, org.b]  # best CSAT first
    a, b = _rows(view)[org.a], _rows(view)[org.b]
    assert a["name"] == {"he": a["name"]["he"], "en": a["name"]["en"]} and a["region_id"] == org.region
    assert a["surveys"]["people"] == 5 and a["surveys"]["responses"] == 5
    assert a["surveys"]["csat"]["average"] == 4.2  # (5+4+4+3+5)/5
    assert a["surveys"]["nps"]["score"] == 40.0  # 3 promoters, 1 passive, 1 detractor of 5
    assert b["surveys"] == {"suppressed": True}
    assert a["funnel"]["implemented"] == 3 and b["funnel"]["implemented"] == 0
    assert a["lead_times"]["implemented"] == {"ideas": 3, "median_days": 20, "p90_days": 30}
    assert a["lead_times"]["planned"]["median_days"] == 2

    by_lead = _compare(org, months=",".join(months_back(3)), sort="lead_time")
    assert by_lead["branches"][0]["branch_id"] == org.a  # B has no lead time: last

    exported = table(org.api.call("GET", "/exports/branches.csv", org.tokens["admin"],
                                  query_string={"region_id": org.region, "months": ",".join(months_back(3))}))
    assert [row["branch_id"] for row in exported] == [org.a, org.b]  # by name: A, B
    assert exported[0]["surveys.csat.average"] == "4.2" and exported[0]["funnel.implemented"] == "3"
    assert exported[0]["lead_times.implemented.median_days"] == "20"
    assert exported[1]["surveys.suppressed"] == "True" and exported[1]["surveys.csat.average"] == ""
    assert org.api.call("GET", "/exports/branches.csv", org.tokens["staff_a"]).status_code == 403


def test_the_comparison_is_what_was_packed_and_a_rebuild_gives_the_same_rows(org):
    quick = [("p1", 5), ("p2", 4), ("p3", 4), ("p4", 2), ("p5", 5)]
    for who, rating in quick[:4]:
        org.api.ok("POST", "/feedback", org.tokens[who], 201, json={"branch_id": org.a, "rating": rating})
    _pack(org)
    assert _rows(_compare(org))[org.a]["quick"] == {"suppressed": True}  # four people
    who, rating = quick[4]
    org.api.ok("POST", "/feedback", org.tokens[who], 201, json={"branch_id": org.a, "rating": rating})
    assert _rows(_compare(org))[org.a]["quick"] == {"suppressed": True}  # not packed yet: as of the last pack
    _pack(org)
    before = _compare(org)
    figures = _rows(before)[org.a]["quick"]
    assert figures["people"] == 5 and figures["answers"] == 5 and figures["average"] == 4.0

    month = months_back(1)[0]
    org.db["insights"].delete_many({"_id": {"$regex": f"^bc\\|{month}\\|"}})  # as if counting had crashed
    _pack(org)
    assert _rows(_compare(org))[org.a]["quick"]["people"] == 0
    rebuild_insights(org.db)  # packs anew too
    org.api.client.application.extensions["feedback_cubes"].clear()
    after = _compare(org)
    assert _rows(after)[org.a] == _rows(before)[org.a]


def test_only_org_admins_compare_branches_and_an_unknown_region_is_not_found(org):
    assert org.api.call("GET", "/insights/branches", org.tokens["manager_a"]).status_code == 403
    assert org.api.call("GET", "/insights/branches", org.tokens["p1"]).status_code == 403
    assert org.api.call("GET", "/insights/branches").status_code == 401
    assert org.api.call("GET", "/insights/branches", org.tokens["admin"],
                        query_string={"region_id": "rg_nowhere"}).status_code == 404
    # a region whose branches came after the last pack is there, its branches from the next pack on
    assert _compare(org)["region_id"] == org.region
    refused = org.api.call("GET", "/insights/branches", org.tokens["admin"], query_string={"sort": "$gt"})
    assert refused.status_code == 422 and "sort" in refused.get_json()["errors"]["query"]
