"""Messages in both languages, preferences and the identities that make delivery idempotent, without I/O."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from services.notifications import domain, messages
from services.notifications.domain import ACCOUNT, EMAIL, FOLLOWED_IDEAS, INAPP, MY_IDEAS, WEBHOOK
from shared.errors import DomainError


@pytest.mark.parametrize("key", sorted(messages.CATALOG))
def test_every_message_renders_in_hebrew_and_english_with_its_parameters(key):
    params = {"title": "T", "into_title": "U", "status": "planned", "branch": {"he": "סניף", "en": "Branch"}}
    he, en = messages.render(key, params, "he"), messages.render(key, params, "en")
    assert all(he) and all(en) and he != en
    assert "{" not in he[1] + en[1]


def test_status_names_and_branch_names_follow_the_language_and_a_note_comes_under_the_body():
    params = {"title": "Evening hours", "status": "declined", "note": "No budget this year."}
    assert messages.render("idea.status_changed.author", params, "en") == (
        "News about your idea", "Your idea “Evening hours” is now declined.\nNo budget this year.")
    assert messages.render("idea.status_changed.author", params, "he")[1].startswith(
        'הרעיון "Evening hours" עבר לסטטוס: לא יתקדם.')
    assert "the whole organization" in messages.render("idea.submitted.staff", {"title": "T", "branch": None}, "en")[1]
    assert messages.render("idea.submitted.staff", {"title": "T", "branch": {"he": "סניף א"}}, "en")[1] == (
        "A new idea for סניף א: “T”.")  # a branch named only in Hebrew is shown so


def test_an_unknown_language_falls_back_to_hebrew_and_missing_parameters_render_empty():
    assert messages.render("comment.posted.author", {}, "fr") == ("תגובה חדשה לרעיון שלכם", 'נוספה תגובה לרעיון "".')


def test_preferences_default_per_category_and_what_is_stored_wins():
    assert domain.wants(None, FOLLOWED_IDEAS, INAPP) and not domain.wants(None, FOLLOWED_IDEAS, EMAIL)
    assert domain.wants(None, MY_IDEAS, EMAIL) and not domain.wants(None, MY_IDEAS, WEBHOOK)
    stored = domain.choose({FOLLOWED_IDEAS: {INAPP: False}})
    assert not domain.wants(stored, FOLLOWED_IDEAS, INAPP) and domain.wants(stored, MY_IDEAS, INAPP)


def test_critical_categories_always_go_and_cannot_be_turned_off():
    assert domain.wants({ACCOUNT: {INAPP: False, EMAIL: False}}, ACCOUNT, INAPP)
    assert domain.wants({ACCOUNT: {INAPP: False, EMAIL: False}}, ACCOUNT, EMAIL)
    with pytest.raises(DomainError):
        domain.choose({ACCOUNT: {INAPP: False}})
    with pytest.raises(DomainError):
        domain.choose({"gossip": {INAPP: True}})


def test_a_profile_is_default_only_when_reachable_with_default_preferences():
    assert domain.Profile().default and domain.Profile(prefs=domain.choose({})).default
    assert not domain.Profile(prefs=domain.choose({FOLLOWED_IDEAS: {INAPP: False}})).default
    assert not domain.Profile(active=False).default and not domain.Profile(erased=True).reachable


def test_a_notification_id_is_the_same_for_the_same_event_recipient_and_channel_and_orders_by_time():
    at = datetime(2026, 11, 30, 14, 5, 0, 123456, tzinfo=timezone.utc)
    one = domain.notification_id("ev_1", at, "pe_1", INAPP)
    assert one == domain.notification_id("ev_1", at, "pe_1", INAPP)
    others = [domain.notification_id("ev_1", at, "pe_2", INAPP), domain.notification_id("ev_1", at, "pe_1", EMAIL),
              domain.notification_id("ev_2", at, "pe_1", INAPP)]
    assert len({one, *others}) == 4
    later = domain.notification_id("ev_0", at.replace(second=1), "pe_1", INAPP)
    assert later > one and domain.time_of(one) == at
    assert domain.event_instant("2026-11-30T16:05:00.123456+02:00") == at.replace(hour=14, second=0)


def test_the_inbox_is_read_month_by_month_back_to_its_horizon():
    months = list(domain.months_back("202602", 3))
    assert months == ["202602", "202601", "202512", "202511"]
    assert domain.newest_month(datetime(2026, 1, 31, 12, tzinfo=timezone.utc)) == "202602"  # a day ahead
    assert domain.box("pe_1", "202602") == "pe_1:202602"
