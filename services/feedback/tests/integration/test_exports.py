"""CSV exports through the HTTP API, against the real store: a survey's responses (no rows under 5 respondents,
segments shown only where 5 share them, formulas defused, staff of the branch only) and the satisfaction view
(the same hidden cells as the API)."""
from __future__ import annotations

import csv
import io

from services.feedback.exports import lines


def table(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_a_surveys_responses_export_holds_the_privacy_threshold(org):
    survey = org.survey()
    path = f"/exports/surveys/{survey['id']}/responses.csv"
    for who in ("p1", "p2", "p3", "p4"):
        org.answer(who, survey["id"], {"q1": 4, "q2": 9, "q3": f"{who} liked the evening hours"})
    assert table(org.api.call("GET", path, org.tokens["staff_a"])) == []  # 4 respondents: no rows at all
    org.answer("p5", survey["id"], {"q1": 2, "q2": 3, "q3": "=HYPERLINK(\"http://evil.example\")"})
    org.answer("p6", survey["id"], {"q1": 5, "q2": 10})  # the only one of 65+ with the families
    rows = table(org.api.call("GET", path, org.tokens["staff_a"]))
    assert len(rows) == 6 and list(rows[0])[:7] == ["response_id", "submitted_at", "channel", "branch_id",
                                                    "program", "age_group", "population_group"]
    young = [r for r in rows if r["age_group"] == "18_29"]
    assert len(young) == 5 and {r["population_group"] for r in young} == {"families"}
    [alone] = [r for r in rows if r["q1"] == "5"]
    assert (alone["age_group"], alone["population_group"]) == ("", "")  # 1 person of 65+: not told apart
    assert sorted(r["q1"] for r in rows) == ["2", "4", "4", "4", "4", "5"]
    assert "'=HYPERLINK(\"http://evil.example\")" in [r["q3"] for r in rows]  # a formula is text, not run
    assert all(r["branch_id"] == org.a and r["channel"] == "web" for r in rows)
    assert not any(org.ids[p] in ",".join(r.values()) for r in rows for p in ("p1", "p5"))  # nobody named
    for who in ("p1", "staff_b"):
        refused = org.api.call("GET", path, org.tokens[who])
        assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    assert org.api.call("GET", path).status_code == 401
    assert org.api.call("GET", "/exports/surveys/sv_nope/responses.csv", org.tokens["staff_a"]).status_code == 404


def test_the_satisfaction_export_shows_what_the_insights_show(org):
    survey = org.survey()
    for who, csat in (("p1", 5), ("p2", 4), ("p3", 4), ("p4", 2), ("p5", 1), ("p6", 3)):
        org.answer(who, survey["id"], {"q1": csat, "q2": 9})
    query = {"scope": f"branch:{org.a}", "by": "age_group"}
    rows = table(org.api.call("GET", "/exports/satisfaction.csv", org.tokens["staff_a"], query_string=query))
    shown = org.satisfaction(by="age_group")
    assert [r["row"] for r in rows] == ["total"] + [f"age_group={r['value']}" for r in shown["rows"]]
    total = rows[0]
    assert total["surveys.people"] == "6"
    assert total["surveys.csat.average"] == str(shown["totals"]["surveys"]["csat"]["average"])
    for row in rows[1:]:  # 5 and 1 people: the 1 is hidden, and so the 5 (subtraction would reveal the 1)
        assert row["surveys.suppressed"] == "True"
        assert row["surveys.people"] == row["surveys.csat.average"] == ""
    refused = org.api.call("GET", "/exports/satisfaction.csv", org.tokens["staff_b"], query_string=query)
    assert refused.status_code == 403


def test_csv_lines_are_streamed_one_row_at_a_time_and_defuse_formulas():
    produced = []

    def rows():
        for n in range(3):
            produced.append(n)
            yield [n, f"+{n}", None, ["a", "b"]]

    stream = lines(["n", "text", "empty", "many"], rows())
    assert next(stream) == "\ufeffn,text,empty,many\r\n" and produced == []
    assert next(stream) == "0,'+0,,a; b\r\n" and produced == [0]
    assert list(stream) == ["1,'+1,,a; b\r\n", "2,'+2,,a; b\r\n"]
