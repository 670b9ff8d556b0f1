"""Directory rules, without storage."""
import pytest

from services.directory import domain
from shared.errors import DomainError


def staff(**roles):
    return domain.register_staff("Dana", "Dana@Example.org", branch_roles=roles or {"br_a": ["branch_staff"]})


def test_staff_e_mail_is_normalised_and_registration_is_recorded():
    person = staff()
    assert person.email == "dana@example.org"
    [event] = person.events
    assert event.type == "cocreate.person.registered.v1" and event.data["branch_roles"] == {"br_a": ["branch_staff"]}


@pytest.mark.parametrize("kwargs, field", [
    ({"branch_roles": {"br_a": ["king"]}}, "branch_roles"),
    ({"branch_roles": {}}, "branch_roles"),
    ({"org_roles": ["emperor"]}, "org_roles"),
])
def test_unknown_or_missing_roles_are_refused(kwargs, field):
    with pytest.raises(DomainError) as caught:
        domain.register_staff("Dana", "d@example.org", **kwargs)
    assert caught.value.field == field


def test_a_participant_may_stay_pseudonymous():
    person = domain.register_participant("br_a", lang="en")
    assert person.name.startswith("Participant ") and person.kind == "participant" and person.email is None


def test_group_attributes_are_kept_only_with_consent_and_withdrawing_removes_them():
    person = domain.register_participant("br_a", age_group="30_44", population_group="students",
                                         population_groups=("students",))
    assert person.age_group.value == "30_44" and person.population_group.value == "students"
    given_at = person.age_group.at
    same = domain.update_profile(person, age_group="30_44")
    assert same is person  # giving the same consent again changes nothing, not even its time
    withdrawn = domain.update_profile(person, age_group=None)
    assert withdrawn.age_group is None and withdrawn.events[-1].data["age_group"] is None
    assert person.age_group.at == given_at


def test_an_unknown_population_group_is_refused():
    with pytest.raises(DomainError):
        domain.register_participant("br_a", population_group="aliens", population_groups=("students",))


def test_erasure_keeps_nothing_that_identifies_the_person():
    erased = domain.erase(staff())
    assert (erased.name, erased.email, erased.branch_roles, erased.erased) == ("", None, {}, True)
    assert erased.events[-1].type == "cocreate.person.erased.v1"


def test_invite_codes_avoid_ambiguous_characters_and_expire():
    invite = domain.new_invite("br_a", "pe_1", days=1)
    assert len(invite.code) == 8 and not set(invite.code) & set("01OI")
    assert invite.usable() and not invite.usable(at=invite.expires_at)
    assert domain.normalize_invite_code(f" {invite.code[:4].lower()}-{invite.code[4:]} ") == invite.code
