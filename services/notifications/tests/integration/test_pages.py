"""The notifications pages through the Flask client, against the real store: the inbox in Hebrew (right to left)
and English showing only one's own notifications, opening one marks it read and leads to its idea, mark all
read, the preferences form, the webhook pages for org admins only (the secret shown once, pause, delete, the
delivery log), refusals said on the page, and CSRF."""
from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from conftest import PageVisitor, direction, text_of

NOTIFICATIONS = Path(__file__).resolve().parents[2]


def Visitor(app, token: str | None, lang: str = "en") -> PageVisitor:  # noqa: N802 (reads as the class it makes)
    return PageVisitor(app, "/notifications", token, lang, csrf_page="/preferences")


@pytest.fixture
def visit(notifications_app, org):
    app, _ = notifications_app

    def make(who: str | None, lang: str = "en") -> Visitor:
        return Visitor(app, org.tokens[who] if who else None, lang)

    return make




def unread(org, who: str) -> int:
    return org.api.ok("GET", "/inbox/unread-count", org.tokens[who])["unread"]


# --- the inbox -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang, dir_, title, mark", [("he", "rtl", "עדכון ברעיון שלכם", "לא נקראה"),
                                                      ("en", "ltr", "News about your idea", "Unread")])
def test_the_inbox_shows_ones_own_notifications_newest_first_in_the_pages_language(org, visit, lang, dir_,
                                                                                    title, mark):
    first = org.idea("p1", title="Benches in the park")
    second = org.idea("p1", title="A quiet room for homework")
    org.move(first, "under_review")
    org.move(second, "planned")
    other = org.idea("p2", title="Someone else's idea")
    org.move(other, "under_review", author="p2")
    page = visit("p1", lang).page("/")
    assert direction(page) == (lang, dir_)
    text = text_of(page)
    assert title in text and mark in text
    assert text.index("A quiet room for homework") < text.index("Benches in the park")
    assert "Someone else's idea" not in text
    assert 'id="unread-badge"' in page  # the frame's badge, for a signed-in person


def test_the_inbox_pages_on_with_a_more_link(org, visit):
    idea = org.idea("p1")
    for i in range(23):
        org.move(idea, "under_review" if i % 2 == 0 else "submitted",
                 previous="submitted" if i % 2 == 0 else "under_review")
    page = visit("p1").page("/")
    more = re.search(r'href="(/notifications/\?after=[^"]+)" rel="next"', page)
    assert page.count('class="unread"') == 20 and more
    rest = visit("p1").client.get(html.unescape(more.group(1))).get_data(as_text=True)
    assert rest.count('class="unread"') == 3 and 'rel="next"' not in rest


def test_opening_a_notification_marks_it_read_and_leads_to_its_idea(org, visit):
    idea = org.idea("p1")
    org.move(idea, "under_review")
    visitor = visit("p1")
    notification_id = re.search(r'action="/notifications/([^/"]+)/open"', visitor.page("/")).group(1)
    assert unread(org, "p1") == 1
    response = visitor.post(f"/{notification_id}/open")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/ideas/{idea}")
    assert unread(org, "p1") == 0
    assert 'class="read"' in visitor.page("/")


def test_nobody_opens_anothers_notification(org, visit):
    idea = org.idea("p1")
    org.move(idea, "under_review")
    notification_id = re.search(r'action="/notifications/([^/"]+)/open"', visit("p1").page("/")).group(1)
    response = visit("p2").post(f"/{notification_id}/open")
    assert response.status_code == 404 and "This does not exist" in response.get_data(as_text=True)
    assert unread(org, "p1") == 1


def test_mark_all_read_from_the_page(org, visit):
    for title in ("One", "Two", "Three"):
        org.move(org.idea("p1", title=title), "under_review")
    assert unread(org, "p1") == 3
    response = visit("p1", "he").post("/read-all")
    assert response.status_code == 303
    assert unread(org, "p1") == 0
    page = visit("p1", "he").client.get(response.headers["Location"]).get_data(as_text=True)
    assert "כל ההודעות שלכם סומנו כנקראו." in page and 'class="unread"' not in page


def test_anyone_not_signed_in_sees_what_the_inbox_is_and_is_sent_to_sign_in_for_the_rest(org, visit):
    anonymous = visit(None)
    assert "Everything that concerns you" in anonymous.page("/")
    response = anonymous.client.get("/notifications/preferences")
    assert response.status_code == 302 and "/directory/signin?next=" in response.headers["Location"]


def test_a_form_post_without_the_csrf_token_is_refused_before_anything_changes(org, visit):
    org.move(org.idea("p1"), "under_review")
    response = visit("p1").post("/read-all", csrf=False)
    assert response.status_code == 403 and response.mimetype == "application/problem+json"
    assert unread(org, "p1") == 1


# --- preferences -------------------------------------------------------------------------------------------

def test_the_preferences_form_changes_the_preferences_and_shows_account_as_always_on(org, visit):
    visitor = visit("p2")
    page = visitor.page("/preferences")
    assert re.search(r'id="account-email" checked disabled', page)
    assert 'name="account.email"' not in page
    response = visitor.post("/preferences", {"my_ideas.inapp": "1", "my_ideas.email": "1",
                                             "my_ideas.email_frequency": "daily", "followed_ideas.inapp": "1",
                                             "followed_ideas.email_frequency": "instant"})
    assert response.status_code == 303
    chosen = org.api.ok("GET", "/preferences", org.tokens["p2"])["categories"]
    assert chosen["my_ideas"] == dict(chosen["my_ideas"], inapp=True, email=True, email_frequency="daily")
    assert chosen["volunteering"]["inapp"] is False and chosen["volunteering"]["email"] is False
    assert chosen["account"]["inapp"] is True and chosen["account"]["email"] is True
    page = visitor.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your choices were saved." in page and re.search(r'id="my_ideas-daily"[^>]*checked', page)


def test_a_refused_preference_is_said_on_the_page_in_hebrew_and_changes_nothing(org, visit):
    before = org.api.ok("GET", "/preferences", org.tokens["p1"])
    response = visit("p1", "he").post("/preferences", {"my_ideas.email_frequency": "hourly"})
    assert response.status_code == 422 and "בדקו את מה שהזנתם." in response.get_data(as_text=True)
    assert org.api.ok("GET", "/preferences", org.tokens["p1"]) == before


# --- webhooks ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["p1", "staff_a", "manager_a"])
def test_the_webhook_pages_are_for_org_admins_only(org, visit, who):
    visitor = visit(who)
    assert "Only organization admins manage webhooks." in visitor.page("/webhooks", 403)
    response = visitor.post("/webhooks", {"url": "https://example.org/hook",
                                          "event_types": "cocreate.idea.submitted.v1"})
    assert response.status_code == 403
    made = org.api.ok("GET", "/webhooks", org.tokens["admin"], query_string={"limit": 100})["items"]
    assert all(w["created_by"] != org.ids[who] for w in made)
    assert "/notifications/webhooks" not in visitor.page("/")


def test_an_admin_subscribes_sees_the_secret_once_pauses_and_deletes(org, visit):
    admin = visit("admin", "he")
    url = f"https://example.org/hook/{org.run}"
    response = admin.post("/webhooks", {"url": url, "description": "CRM",
                                        "event_types": ["cocreate.idea.submitted.v1", "cocreate.idea.status_changed.v1"]})
    page = response.get_data(as_text=True)
    assert response.status_code == 201 and "הוא מוצג פעם אחת בלבד" in page
    secret = re.search(r'id="secret">(whsec_[0-9a-f]{64})<', page).group(1)
    hook = next(w for w in org.api.ok("GET", "/webhooks", org.tokens["admin"], query_string={"limit": 100})["items"]
                if w["url"] == url)
    assert secret not in admin.page("/webhooks") and secret not in admin.page(f"/webhooks/{hook['id']}")
    assert admin.post(f"/webhooks/{hook['id']}/active", {"active": "0"}).status_code == 303
    assert org.api.ok("GET", f"/webhooks/{hook['id']}", org.tokens["admin"])["active"] is False
    assert "המינוי מושהה" in admin.page(f"/webhooks/{hook['id']}?done=paused")
    assert admin.post(f"/webhooks/{hook['id']}/delete").status_code == 303
    assert org.api.call("GET", f"/webhooks/{hook['id']}", org.tokens["admin"]).status_code == 404


def test_a_bad_webhook_address_is_refused_on_the_page_and_nothing_is_made(org, visit):
    response = visit("admin").post("/webhooks", {"url": "ftp://example.org/x",
                                                 "event_types": "cocreate.idea.submitted.v1"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "Give an absolute http:// or https:// address." in page
    assert 'value="ftp://example.org/x"' in page
    response = visit("admin").post("/webhooks", {"url": "https://example.org/x"})
    assert response.status_code == 422 and "Choose at least one event type." in response.get_data(as_text=True)


def test_the_delivery_log_shows_each_delivery_and_a_pending_one_cannot_be_replayed(org, visit):
    hook = org.api.ok("POST", "/webhooks", org.tokens["admin"], status=201,
                      json={"url": f"https://example.org/{org.run}", "event_types": ["cocreate.idea.submitted.v1"]})
    org.idea("p1")
    admin = visit("admin")
    page = admin.page(f"/webhooks/{hook['id']}")
    assert "cocreate.idea.submitted.v1" in text_of(page) and "Pending" in text_of(page)
    delivery = org.api.ok("GET", f"/webhooks/{hook['id']}/deliveries", org.tokens["admin"])["items"][0]
    response = admin.post(f"/webhooks/{hook['id']}/deliveries/{delivery['id']}/replay")
    assert response.status_code == 409
    assert "This delivery is still being attempted" in response.get_data(as_text=True)


# --- every string is translated ------------------------------------------------------------------------

def test_every_fixed_refusal_of_the_use_cases_has_a_hebrew_translation():
    sources = "".join((NOTIFICATIONS / name).read_text() for name in ("domain.py", "services.py"))
    unmarked = re.findall(r'(?:DomainError|Forbidden|Conflict)\(\s*"([^"{}]+)"', sources)
    assert not unmarked, f"mark fixed refusals with N_: {unmarked}"
    said = set(re.findall(r'N_\(\s*"([^"]+)"\)', sources))
    with (NOTIFICATIONS / "translations/he/LC_MESSAGES/messages.po").open("rb") as f:
        translated = {m.id for m in read_po(f) if m.id and m.string and not m.fuzzy}
    assert said and not said - translated, sorted(said - translated)
