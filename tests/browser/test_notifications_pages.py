"""The unread badge and the inbox in real Chromium through the edge, on the whole platform: a participant's page
stays open while a branch manager moves their idea along (through the ideas API, in another context); the
frame's badge shows the new notification without a reload (it polls the notifications service), and opening it
from the inbox marks it read and leads to the idea. Once in Hebrew on a phone, once in English on a desktop,
the inbox opened with the keyboard alone."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP
from tests.browser.test_ideas_pages import PHONE, Branch, call, fits_the_screen, tab_to

pytestmark = pytest.mark.browser
BADGE_WAIT_MS = 60_000  # the badge asks every 25 s; the event also crosses Kafka and two workers
SAY = {
    "he": {"title": "ספרייה פתוחה בערב", "news": "עדכון ברעיון שלכם", "open": "פתיחה", "inbox": "הודעות"},
    "en": {"title": "An open library in the evening", "news": "News about your idea", "open": "Open",
           "inbox": "Inbox"},
}


@pytest.fixture(scope="module")
def branch(platform) -> Branch:
    return Branch(platform)


@pytest.mark.parametrize("lang, viewport", [("he", PHONE), ("en", DESKTOP)], ids=["he-phone", "en-desktop"])
def test_the_badge_shows_a_status_change_without_a_reload_and_opening_it_marks_it_read(
        branch, open_page, screenshot, lang, viewport):
    say = SAY[lang]
    author = branch.participant("Rina")
    idea_id = branch.idea(author, f"{say['title']} {branch.run}", "Twice a week, until nine.")
    page = open_page(viewport=viewport, locale="he-IL" if lang == "he" else "en-US", signed_in=author)
    page.goto(f"/ideas/{idea_id}?lang={lang}")
    badge = page.locator("#unread-badge")
    expect(badge).to_be_hidden()
    page.evaluate("window.__sameDocument = true")  # gone if the page were reloaded

    call(branch.base, "POST", f"/ideas/api/v1/ideas/{idea_id}/status", branch.manager, {"status": "under_review"})

    expect(badge).to_be_visible(timeout=BADGE_WAIT_MS)
    expect(badge.locator(".unread-count")).to_have_text("1")
    expect(badge.locator(".unread-label")).to_have_text(say["inbox"])
    assert page.evaluate("window.__sameDocument === true"), "the page was not reloaded"
    assert page.locator(".unread-live").get_attribute("aria-live") == "polite"
    assert fits_the_screen(page)
    screenshot(page, f"notifications-badge-{lang}")

    badge.click()
    page.wait_for_url(re.compile(r"/notifications/"))
    item = page.locator("ol.inbox > li.unread").filter(has_text=say["news"])
    expect(item).to_have_count(1)
    assert fits_the_screen(page)
    screenshot(page, f"notifications-inbox-{lang}")
    tab_to(page, "ol.inbox > li.unread button")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/ideas/{idea_id}"))
    expect(page.locator("#unread-badge")).to_be_hidden()
    assert call(branch.base, "GET", "/notifications/api/v1/inbox/unread-count", author)["unread"] == 0
