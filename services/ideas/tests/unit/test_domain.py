"""Idea rules without I/O: submission checks, the lifecycle's allowed moves, time in status, merge, adoption."""
from datetime import timedelta

import pytest

from services.ideas import domain
from shared.errors import DomainError


def new(**kw):
    fields = dict(title="Shade in the yard", description="Trees or a canopy.", branch_id="br_a", region_id="rg_1",
                  author_id="pe_1", author_name="Noa")
    fields.update(kw)
    return domain.submit(**fields)


def test_a_submission_records_one_fact_with_the_idea_as_submitted():
    idea = new(tags=[" Youth ", "youth", "Summer"], age_groups=["under_18"])
    assert idea.tags == ("youth", "summer") and idea.status == domain.SUBMITTED
    [fact] = idea.events
    assert fact.type == "cocreate.idea.submitted.v1" and fact.subject == idea.id and fact.branch_id == "br_a"
    assert fact.data["scope"] == "branch" and fact.data["channel"] == "web"


@pytest.mark.parametrize("kw, field", [
    ({"title": "ab"}, "title"), ({"description": "  "}, "description"), ({"tags": [f"t{i}" for i in range(9)]}, "tags"),
    ({"age_groups": ["kids"]}, "age_groups"), ({"population_groups": ["a b"]}, "population_groups"),
    ({"channel": "phone"}, "channel"),  # only staff enter ideas from other channels
    ({"entered_by": "pe_s", "channel": "phone"}, "on_behalf_of"),  # without the client's consent
    ({"entered_by": "pe_s", "channel": "web", "consent_recorded": True}, "channel"),
])
def test_bad_submissions_name_the_field(kw, field):
    with pytest.raises(DomainError) as error:
        new(**kw)
    assert error.value.field == field


def test_every_allowed_transition_and_no_other():
    for source, targets in domain.TRANSITIONS.items():
        for target in domain.STATUSES:
            idea = domain.Idea(id="id_1", branch_id="br_a", region_id=None, title="t", description="d", status=source)
            kwargs = {"reason_code": "budget", "note": "n"} if target == domain.DECLINED else {}
            if target in targets:
                moved = domain.change_status(idea, target, by="pe_s", by_name="S", **kwargs)
                assert moved.status == target and moved.history[-1].previous == source
            else:
                with pytest.raises(DomainError):
                    domain.change_status(idea, target, by="pe_s", by_name="S", **kwargs)


def test_time_in_each_status_adds_up():
    idea = new()
    t0 = idea.status_since
    idea = domain.change_status(idea, domain.UNDER_REVIEW, by="s", by_name="S", at=t0 + timedelta(hours=2))
    idea = domain.change_status(idea, domain.PLANNED, by="s", by_name="S", at=t0 + timedelta(hours=5))
    idea = domain.change_status(idea, domain.UNDER_REVIEW, by="s", by_name="S", at=t0 + timedelta(hours=6))
    assert idea.durations == {"submitted": 7200.0, "under_review": 10800.0, "planned": 3600.0}
    assert idea.events[0].data["seconds_in_previous"] == 3600.0


def test_a_decline_needs_a_reason_code_and_a_note():
    idea = new()
    with pytest.raises(DomainError, match="reason"):
        domain.change_status(idea, domain.DECLINED, by="s", by_name="S", note="why")
    with pytest.raises(DomainError, match="note"):
        domain.change_status(idea, domain.DECLINED, by="s", by_name="S", reason_code="budget")
    with pytest.raises(DomainError):
        domain.change_status(idea, domain.UNDER_REVIEW, by="s", by_name="S", reason_code="budget")


def test_merge_and_undo_return_to_the_status_before():
    idea = domain.change_status(new(), domain.UNDER_REVIEW, by="s", by_name="S")
    other = new(title="Shade for the yard")
    merged = domain.merge(idea, other, by="s", by_name="S")
    assert merged.status == domain.MERGED and merged.merged_into == other.id
    with pytest.raises(DomainError):
        domain.merge(other, other, by="s", by_name="S")
    with pytest.raises(DomainError):
        domain.merge(new(), merged, by="s", by_name="S")  # not into a merged idea
    back = domain.unmerge(merged, by="s", by_name="S")
    assert back.status == domain.UNDER_REVIEW and back.merged_into is None
    assert [h.status for h in back.history] == ["submitted", "under_review", "merged", "under_review"]


def test_only_an_implemented_idea_is_adopted_and_not_by_its_own_branch():
    idea = new()
    with pytest.raises(DomainError):
        domain.adopt(idea, branch_id="br_b", region_id=None, owner_id="pe_s", owner_name="S")
    done = domain.replace(idea, status=domain.IMPLEMENTED)
    with pytest.raises(DomainError):
        domain.adopt(done, branch_id="br_a", region_id=None, owner_id="pe_s", owner_name="S")
    adoption = domain.adopt(done, branch_id="br_b", region_id="rg_2", owner_id="pe_s", owner_name="S")
    assert (adoption.status, adoption.adopted_from, adoption.owner_id) == (domain.PLANNED, idea.id, "pe_s")
    assert [e.type for e in adoption.events] == ["cocreate.idea.submitted.v1", "cocreate.idea.adopted.v1"]
