"""The insights model without I/O: CSAT and NPS of known answer sets, nearest-rank medians and percentiles from
kept distributions, exact people per filter, the privacy threshold and secondary suppression."""
from services.feedback import insights
from services.feedback.insights import Filter, Segment


def _add(doc, path, value):
    *parents, leaf = path.split(".")
    for name in parents:
        doc = doc.setdefault(name, {})
    doc[leaf] = doc.get(leaf, 0) + value


def month_docs(responses, month="202603"):
    """A month's documents of one scope, built as the repository builds them (each response is (segment, kind,
    answers, person key); a person grows the people counters only on their first claim): (summary, pair tables
    by code, cubes)."""
    docs, claims = {}, set()
    for segment, kind, answers, person in responses:
        updates = insights.figure_updates(segment, insights.figure_increments(kind, answers))
        a, p = insights.part(segment.age_group), insights.part(segment.population_group)
        for pattern in insights.people_patterns(segment):
            if (kind, pattern, person) not in claims:
                claims.add((kind, pattern, person))
                insights.merge_updates(updates, insights.people_updates(a, p, pattern, kind))
        for target, inc in updates.items():
            doc = docs.setdefault(target, insights.target_fields("br:x", month, target))
            for path, value in inc.items():
                _add(doc, path, value)
    summary = docs.get((insights.SUMMARY,), {"month": month})
    pairs = {(target[1], target[2]): doc for target, doc in docs.items() if target[0] == insights.PAIR}
    return summary, pairs, [doc for target, doc in docs.items() if target[0] == insights.CUBE]


def cube(responses, month="202603"):
    """The month as one document of flat cells (what summarize() reads)."""
    return insights.flat_months(month_docs(responses, month)[2])[0]


def seg(age="18_29", population="families", channel="web", program=None):
    return Segment("br_a", "rg_1", age, population, channel, program, "202603")


def test_nps_and_csat_of_known_answer_sets():
    nps, csat = [10, 9, 8, 7, 0], [5, 4, 4, 2, 1]
    doc = cube([(seg(), "survey", [("csat", c), ("nps", n)], f"pk{i}") for i, (c, n) in enumerate(zip(csat, nps))])
    figures = insights.summarize([doc], Filter())["surveys"]
    assert figures["nps"] == {"answers": 5, "score": 20.0, "promoters": 2, "passives": 2, "detractors": 1}
    assert figures["csat"]["average"] == 3.2 and figures["csat"]["satisfied_share"] == 0.6
    assert figures["csat"]["median"] == 4
    assert figures["csat"]["distribution"] == {"1": 1, "2": 1, "3": 0, "4": 2, "5": 1}
    assert figures["responses"] == 5 and figures["people"] == 5


def test_percentiles_are_nearest_rank_over_the_kept_distribution():
    days = {1: 1, 2: 1, 3: 1, 4: 1, 10: 1}
    assert insights.percentile(days, 0.5) == 3 and insights.percentile(days, 0.9) == 10
    assert insights.percentile({0: 9, 30: 1}, 0.9) == 0 and insights.percentile({0: 8, 30: 2}, 0.9) == 30
    assert insights.percentile({}, 0.5) is None


def test_people_are_exact_for_any_filter_within_a_month_even_when_one_person_answers_twice():
    answers = [("csat", 5)]
    responses = [(seg(channel="web"), "survey", answers, "pk1"), (seg(channel="phone"), "survey", answers, "pk1"),
                 (seg(channel="web", program="club"), "survey", answers, "pk2"),
                 (seg(age="65_plus"), "survey", answers, "pk3")]
    summary, pairs, cubes = month_docs(responses)
    flat = insights.flat_months(cubes)[0]

    def people(flt):
        return sum(kinds.get("survey", 0) for key, kinds in flat["pp"].items() if flt.matches_people(key))

    assert people(Filter()) == 3 and people(Filter(channel="web")) == 3 and people(Filter(channel="phone")) == 1
    assert people(Filter(age_group="18_29")) == 2 and people(Filter(program="club")) == 1
    assert people(Filter(age_group="18_29", channel="web")) == 2
    # the summary holds the same people for one dimension at a time
    assert summary["pp"]["t"]["all"]["survey"] == 3 and summary["pp"]["c"]["web"]["survey"] == 3
    assert summary["pp"]["a"]["18_29"]["survey"] == 2 and summary["pp"]["g"]["club"]["survey"] == 1
    assert summary["ap"] == {"18_29|families": 3, "65_plus|families": 1}
    assert insights.summarize([flat], Filter())["surveys"] == {"suppressed": True}  # 3 people < 5


def test_the_summary_the_pair_tables_and_the_cubes_agree_for_one_and_two_dimensions():
    rows = [("18_29", "families", "web", None, "survey", [("csat", 5), ("nps", 9)]),
            ("18_29", None, "phone", "club", "survey", [("csat", 2), ("nps", 3)]),
            ("65_plus", "families", "web", None, "quick", [("csat", 4)]),
            ("65_plus", "seniors", "kiosk", "club", "survey", [("csat", 3), ("nps", 7)]),
            (None, "seniors", "web", None, "outcome", [("csat", 5)])]
    responses = [(seg(age=a, population=p, channel=c, program=g), kind, answers, f"pk{i % 7}")
                 for i, (a, p, c, g, kind, answers) in enumerate(rows * 3)]
    summary, pairs, cubes = month_docs(responses)
    flat = insights.flat_months(cubes)
    dims = list(insights.DIMENSION_CODES)
    values = {d: insights.marginal_values([summary], insights.DIMENSION_CODES[d]) for d in dims}
    assert insights.marginal([summary], "t", "all") == insights.summarize(flat, Filter())
    for first in dims:
        for value in values[first]:
            one = Filter().with_(first, value)
            assert insights.marginal([summary], insights.DIMENSION_CODES[first], value) == insights.summarize(flat, one)
            for second in dims[dims.index(first) + 1:]:
                for other in values[second]:
                    two = one.with_(second, other)
                    table = pairs.get((insights.pair_of([first, second]), value))
                    assert insights.pair_cell([table] if table else [], other) == insights.summarize(flat, two)


def test_four_people_are_hidden_and_five_are_shown():
    answers = [("csat", 4)]
    four = cube([(seg(), "survey", answers, f"pk{i}") for i in range(4)])
    five = cube([(seg(), "survey", answers, f"pk{i}") for i in range(5)])
    assert insights.summarize([four], Filter())["surveys"] == {"suppressed": True}
    assert insights.summarize([five], Filter())["surveys"]["people"] == 5


def test_over_several_months_people_are_the_largest_months_count():
    answers = [("csat", 4)]
    march = cube([(seg(), "survey", answers, f"pk{i}") for i in range(3)], "202603")
    april = cube([(seg(), "survey", answers, f"pk{i}") for i in range(4)], "202604")
    figures = insights.summarize([march, april], Filter())["surveys"]
    assert figures == {"suppressed": True}  # 4 at least, maybe 7: hidden, on the safe side


def test_a_single_hidden_row_hides_the_smallest_shown_row_too():
    rows = [{"surveys": {"suppressed": False, "people": 9}}, {"surveys": {"suppressed": False, "people": 6}},
            {"surveys": {"suppressed": True}}]
    insights.suppress_complements(rows, ["surveys"])
    assert [r["surveys"].get("suppressed") for r in rows] == [False, True, True]


def test_a_survey_response_adds_its_answers_to_the_surveys_results():
    inc = insights.survey_increments([("q1", "csat", 4), ("q2", "multiple", ["o1", "o3"]), ("q3", "text", "hi")],
                                     "18_29", None)
    assert inc == {"n": 1, "by.18_29|-.n": 1, "by.18_29|-.c4": 1, "q.q1.n": 1, "q.q1.v4": 1, "q.q2.n": 1,
                   "q.q2.vo1": 1, "q.q2.vo3": 1, "q.q3.n": 1}


def test_theme_terms_are_keywords_then_phrases_of_the_text_answers_at_most_eight():
    from services.feedback.insights import MAX_TERMS, theme_terms

    answers = [{"type": "csat", "value": 4}, {"type": "text", "value": "החניה קטנה"},
               {"type": "text", "value": "Parking garage, החניה"}]
    assert theme_terms(answers) == ["חניה", "קטנה", "parking", "garage", "חניה קטנה", "parking garage"]
    assert theme_terms([{"type": "csat", "value": 5}]) == []
    many = " ".join(f"word{chr(97 + i)}" for i in range(20))
    assert len(theme_terms([{"type": "text", "value": many}])) == MAX_TERMS


def test_themes_view_lists_a_term_of_five_distinct_people_over_months_and_hides_small_months():
    from services.feedback.insights import themes_view

    docs = {"202601": [{"term": "גינה", "n": 3, "k": ["a", "b", "a2"]}, {"term": "מזגנ", "n": 9, "k": ["a", "b"]}],
            "202602": [{"term": "גינה", "n": 7, "k": ["c", "d", "e", "f", "g"]}, {"term": "מזגנ", "n": 2, "k": ["a"]}]}
    [garden] = themes_view(docs, ["202601", "202602"], 10)  # the air conditioner: two people only
    assert garden["term"] == "גינה" and garden["responses"] == 10
    # January (3 people) is hidden, so February is too: the total would reveal January
    assert garden["months"] == [{"month": "202601", "suppressed": True}, {"month": "202602", "suppressed": True}]
    [garden] = themes_view(docs, ["202602", "202603"], 10)
    assert garden["months"] == [{"month": "202602", "suppressed": False, "responses": 7},
                                {"month": "202603", "suppressed": False, "responses": 0}]
    assert themes_view(docs, ["202601"], 10) == []
