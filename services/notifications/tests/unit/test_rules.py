"""The rules table without a database: who each event reaches, under which category and message, and the
two principles outside the table (nobody hears of their own act; one notification per person and event)."""
from __future__ import annotations

import pytest

from services.notifications import rules
from services.notifications.domain import CATEGORIES, followers_of, staff_of, volunteers_of
from services.notifications.messages import CATALOG
from shared.events import new_event, registry

IDEAS = {"id_1": {"title": "Shade in the yard", "author_id": "pe_author", "branch_id": "br_1"},
         "id_2": {"title": "Shade for the yard", "author_id": "pe_other", "branch_id": "br_1"}}


class Known:
    def idea(self, idea_id):
        return IDEAS.get(idea_id)

    def branch_names(self, branch_id):
        return {"he": "סניף מרכז", "en": "Central branch"} if branch_id == "br_1" else None


def event(type: str, data: dict, actor: str | None = "pe_staff", subject: str = "id_1"):
    base = registry.example(type)["data"]
    return new_event(type, source="/ideas", subject=subject, data={**base, **data}, actor_id=actor)


def reached(e) -> list[tuple[str, object, str]]:
    return [(r.rule.message, r.who, r.rule.category) for r in rules.plan(e, Known())]


def test_every_rule_names_a_known_category_a_message_in_both_languages_and_a_contract_type():
    for rule in rules.RULES:
        assert rule.category in CATEGORIES
        assert set(CATALOG[rule.message]) == {"he", "en"}
        assert rule.event in registry.types


def test_a_status_change_reaches_the_author_then_volunteers_then_followers():
    moved = event("cocreate.idea.status_changed.v1", {"idea_id": "id_1", "to": "in_progress", "author_id": "pe_author",
                                                      "by": "pe_staff"})
    assert reached(moved) == [
        ("idea.status_changed.author", rules.Named(("pe_author",)), "my_ideas"),
        ("idea.in_progress.volunteer", rules.Group(volunteers_of("id_1")), "volunteering"),
        ("idea.status_changed.follower", rules.Group(followers_of("id_1")), "followed_ideas"),
    ]
    reviewed = event("cocreate.idea.status_changed.v1", {"idea_id": "id_1", "to": "under_review"})
    assert [m for m, _, _ in reached(reviewed)] == ["idea.status_changed.author", "idea.status_changed.follower"]
    [author] = rules.plan(reviewed, Known())[:1]
    assert author.params["title"] == "Shade in the yard" and author.params["status"] == "under_review"


def test_a_comment_reaches_the_author_officially_or_not_and_the_staff_mentioned():
    official = event("cocreate.comment.posted.v1", {"idea_id": "id_1", "official": True,
                                                    "mentions": ["pe_m1", "pe_m1", "pe_m2"]})
    assert reached(official) == [
        ("comment.official.author", rules.Named(("pe_author",)), "my_ideas"),
        ("comment.mention", rules.Named(("pe_m1", "pe_m2")), "branch_activity"),
    ]
    plain = event("cocreate.comment.posted.v1", {"idea_id": "id_1", "official": False, "mentions": []})
    assert [m for m, _, _ in reached(plain)] == ["comment.posted.author", "comment.mention"]


def test_new_ideas_reach_their_branchs_staff_or_the_org_admins():
    at_branch = event("cocreate.idea.submitted.v1", {"idea_id": "id_9", "branch_id": "br_1", "title": "New"})
    [(message, who, _)] = reached(at_branch)
    assert (message, who) == ("idea.submitted.staff", rules.Group(staff_of("br_1")))
    assert rules.plan(at_branch, Known())[0].params["branch"] == {"he": "סניף מרכז", "en": "Central branch"}
    org_wide = event("cocreate.idea.submitted.v1", {"idea_id": "id_9", "branch_id": None, "title": "New"})
    [reach] = rules.plan(org_wide, Known())
    assert reach.who == rules.Group("staff:org") and reach.params["branch"] is None


def test_merges_and_adoptions_reach_the_author_with_both_titles_or_the_adopting_branch():
    merged = event("cocreate.idea.merged.v1", {"idea_id": "id_2", "into_idea_id": "id_1"}, subject="id_2")
    [reach] = rules.plan(merged, Known())
    assert reach.who == rules.Named(("pe_other",))
    assert reach.params == {"idea_id": "id_1", "title": "Shade for the yard", "into_title": "Shade in the yard"}
    adopted = event("cocreate.idea.adopted.v1", {"idea_id": "id_new", "source_idea_id": "id_1", "branch_id": "br_1"},
                    subject="id_new")
    [reach] = rules.plan(adopted, Known())  # the adoption is not known yet: its source tells the author
    assert reach.who == rules.Named(("pe_author",)) and reach.params["branch"]["en"] == "Central branch"


def test_an_idea_without_an_author_account_reaches_no_author():
    moved = event("cocreate.idea.status_changed.v1", {"idea_id": "id_unknown", "author_id": None, "to": "planned"})
    assert reached(moved)[0][1] == rules.Named(())


def test_a_roles_change_reaches_the_person_under_the_critical_account_category():
    e = new_event("cocreate.person.roles_changed.v1", source="/directory", subject="pe_x",
                  data=dict(registry.example("cocreate.person.roles_changed.v1")["data"], person_id="pe_x"))
    assert reached(e) == [("account.roles_changed", rules.Named(("pe_x",)), "account")]


@pytest.mark.parametrize("type, data, acted", [
    ("cocreate.comment.posted.v1", {"author_id": "pe_writer"}, {"pe_actor", "pe_writer"}),
    ("cocreate.idea.status_changed.v1", {"by": "pe_mover", "author_id": "pe_author"}, {"pe_actor", "pe_mover"}),
    ("cocreate.idea.submitted.v1", {"entered_by": None}, {"pe_actor"}),
])
def test_who_acted_is_the_events_actor_and_the_data_field_that_names_them(type, data, acted):
    assert rules.actors(event(type, data, actor="pe_actor")) == acted


def test_events_without_rules_reach_nobody():
    assert rules.plan(event("cocreate.vote.cast.v1", {}), Known()) == []


def test_a_low_score_is_the_lowest_of_the_low_answers_relative_to_its_scale():
    def answers(*pairs):
        return {"answers": [{"question_id": f"q{i}", "type": t, "value": v} for i, (t, v) in enumerate(pairs)]}

    assert rules.lowest(answers(("csat", 3), ("nps", 5), ("text", "fine"))) is None
    assert rules.lowest(answers(("csat", rules.LOW_CSAT), ("nps", 8))) == (2, 5)
    assert rules.lowest(answers(("csat", 2), ("nps", 1))) == (1, 10)
    assert rules.lowest(answers(("nps", rules.LOW_NPS + 1))) is None
    assert not rules.low_score({"answers": []})
