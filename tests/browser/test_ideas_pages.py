"""The ideas pages in real Chromium through the edge, on the whole platform: a participant submits an idea
(seeing a similar one of another branch while typing), votes and comments; a branch manager works the board,
answers officially, moves the idea to review and hides a reported comment. Each path in Hebrew and in English,
one of each on a phone, and one done with the keyboard alone. The branch and its manager are made in the
directory; the ideas service learns them from the directory's events, so the tests wait for that."""
from __future__ import annotations

import json
import random
import re
import time
import urllib.request
import uuid

import pytest
from playwright.sync_api import expect

from shared.auth import BRANCH_MANAGER, ORG_ADMIN, PARTICIPANT, Principal
from tests.browser.conftest import DESKTOP, session_token

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
HEBREW_LETTERS = "אבגדזחטיכלנסעפצקרת"
SAY = {
    "he": {"share": "שיתוף הרעיון", "post": "פרסום התגובה", "change": "שינוי הסטטוס", "hide": "הסתרה",
           "under_review": "בבדיקה", "official": "תשובה רשמית", "hidden": "הוסתר.", "vote": "אני תומך/ת ברעיון",
           "title": "ערבי שחמט {word}", "existing": "מועדון שחמט {word} לבני נוער",
           "description": "ערב משחקים פעם בשבוע, עם מדריך.", "comment": "אשמח לעזור בערבי יום שלישי.",
           "answer": "נבדוק חדר פנוי בימי שלישי.", "note": "בודקים חדרים פנויים.", "spam": "קנו שעונים באתר שלי"},
    "en": {"share": "Share the idea", "post": "Post the comment", "change": "Change the status", "hide": "Hide",
           "under_review": "Under review", "official": "Official response", "hidden": "Hidden.",
           "vote": "I support this idea",
           "title": "Chess evenings {word}", "existing": "Chess club {word} for teenagers",
           "description": "A games evening once a week, with a guide.", "comment": "I can help on Tuesdays.",
           "answer": "We will look for a free room on Tuesdays.", "note": "Looking for free rooms.",
           "spam": "Buy watches on my site"},
}


def call(base: str, method: str, path: str, principal: Principal, body: dict | None = None) -> dict:
    """The platform's JSON API through the edge, as `principal` (a bearer token the directory would sign)."""
    request = urllib.request.Request(f"{base}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {session_token(principal)}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=20) as response:
        raw = response.read()
    return json.loads(raw) if raw else {}


def wait_until(predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


class Branch:
    """A branch made in the directory with a manager, known to the ideas service, and its participants."""

    def __init__(self, base: str):
        self.base = base
        self.run = uuid.uuid4().hex[:8]
        admin = Principal(id=f"pe_adm{self.run}", name="Browser admin", roles=frozenset({ORG_ADMIN}))
        code = f"bt-{self.run}"
        self.id = call(base, "POST", "/directory/api/v1/branches", admin, {
            "code": code, "name": {"he": "רמת הדר", "en": "Ramat Hadar"}})["id"]
        person = call(base, "POST", "/directory/api/v1/people", admin, {
            "name": "Dana Levi", "email": f"dana.{self.run}@example.org", "lang": "he",
            "branch_roles": {self.id: [BRANCH_MANAGER]}})["person"]
        self.manager = Principal(id=person["id"], name="Dana Levi",
                                 branch_roles={self.id: frozenset({BRANCH_MANAGER})})
        wait_until(lambda: any(b["id"] == self.id for b in call(
            base, "GET", f"/ideas/api/v1/branches?limit=100&after={code[:-1]}", admin)["items"]),
            "the ideas service learning of the new branch")

    def participant(self, name: str) -> Principal:
        return Principal(id=f"pe_{uuid.uuid4().hex[:12]}", name=name, home_branch=self.id,
                         branch_roles={self.id: frozenset({PARTICIPANT})})

    def idea(self, author: Principal, title: str, description: str, branch_id: str | None = None) -> str:
        return call(self.base, "POST", "/ideas/api/v1/ideas", author, {
            "title": title, "description": description, "branch_id": branch_id or self.id})["id"]


@pytest.fixture(scope="module")
def branch(platform) -> Branch:
    return Branch(platform)


def word() -> str:
    """A made-up word no earlier run used: the similar idea is found by it, whatever else the store holds
    (the titles typed share no more than one other word with those of earlier runs, which rank lower)."""
    return "".join(random.choice(HEBREW_LETTERS) for _ in range(7))


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching selector has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} was not reached with {limit} presses of Tab")


@pytest.mark.parametrize("lang, viewport", [("he", DESKTOP), ("en", PHONE)], ids=["he-desktop", "en-phone"])
def test_a_participant_submits_an_idea_seeing_a_similar_one_votes_and_comments(
        branch, open_page, screenshot, lang, viewport):
    say, made_up = SAY[lang], word()
    elsewhere = branch.idea(branch.participant("Yosef"), say["existing"].format(word=made_up),
                            "Once a week.", branch_id=None)  # an organization-wide idea: another "branch"
    noa = branch.participant("Noa Cohen")
    page = open_page(viewport=viewport, locale="he-IL" if lang == "he" else "en-US", signed_in=noa)

    page.goto(f"/ideas/new?lang={lang}")
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [
        lang, "rtl" if lang == "he" else "ltr"]
    expect(page.locator("#branch")).to_have_value(branch.id)  # my home branch, chosen for me
    page.locator("#title").press_sequentially(say["title"].format(word=made_up), delay=15)
    similar = page.locator("#similar")
    expect(similar.get_by_role("link", name=say["existing"].format(word=made_up))).to_be_visible()
    page.locator("#description").fill(say["description"])
    page.locator("#tags").fill("chess, evenings")
    page.locator("#age-18_29").check()
    screenshot(page, f"ideas-submit-{lang}")
    page.get_by_role("button", name=say["share"]).click()
    page.wait_for_url(re.compile(r"/ideas/id_[0-9a-f]+\?done=submitted"))
    expect(page.get_by_role("heading", level=1)).to_have_text(say["title"].format(word=made_up))
    idea_url = page.url.split("?")[0]
    assert elsewhere not in idea_url

    vote = page.locator("#vote-button")
    expect(vote).to_have_attribute("aria-pressed", "false")
    page.get_by_role("button", name=say["vote"]).click()
    page.wait_for_url(re.compile(r"done=vote"))
    expect(page.locator("#vote-button")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#vote-count")).to_contain_text("1" if lang == "en" else "קול אחד")

    page.locator("#text-new").fill(say["comment"])
    page.get_by_role("button", name=say["post"]).click()
    page.wait_for_url(re.compile(r"done=comment"))
    expect(page.locator("#dialogue .comment-text")).to_have_text(say["comment"])
    expect(page.locator("#dialogue .author").first).to_have_text("Noa Cohen")
    assert fits_the_screen(page), "nothing scrolls sideways"
    screenshot(page, f"ideas-idea-participant-{lang}-{'phone' if viewport is PHONE else 'desktop'}")


@pytest.mark.parametrize("lang, viewport", [("en", DESKTOP), ("he", PHONE)], ids=["en-desktop", "he-phone"])
def test_a_branch_manager_answers_officially_moves_an_idea_to_review_and_hides_a_reported_comment(
        branch, open_page, screenshot, lang, viewport):
    say, made_up = SAY[lang], word()
    author, reporter = branch.participant("Maya"), branch.participant("Omer")
    title = say["existing"].format(word=made_up)
    idea_id = branch.idea(author, title, say["description"])
    spam = call(branch.base, "POST", f"/ideas/api/v1/ideas/{idea_id}/comments", reporter, {"text": say["spam"]})
    call(branch.base, "POST", f"/ideas/api/v1/ideas/{idea_id}/flags", author,
         {"reason": "advertising", "comment_id": spam["id"]})
    page = open_page(viewport=viewport, locale="he-IL" if lang == "he" else "en-US", signed_in=branch.manager)

    page.goto(f"/ideas/board?branch_id={branch.id}&lang={lang}")
    submitted = page.locator("section.column").filter(has=page.locator("#col-submitted"))
    card = submitted.get_by_role("link", name=title)
    expect(card).to_be_visible()
    assert fits_the_screen(page)
    screenshot(page, f"ideas-board-{lang}")
    card.click()
    page.wait_for_url(re.compile(rf"/ideas/{idea_id}"))

    page.locator("#text-new").fill(say["answer"])
    page.locator("#official-new").check()
    page.get_by_role("button", name=say["post"]).click()
    page.wait_for_url(re.compile(r"done=comment"))
    official = page.locator("#dialogue .comment.official")
    expect(official).to_contain_text(say["answer"])
    expect(official.locator(".official-badge")).to_have_text(say["official"])

    page.locator("#new-status").select_option("under_review")
    page.locator("#status-note").fill(say["note"])
    page.get_by_role("button", name=say["change"]).click()
    page.wait_for_url(re.compile(r"done=status"))
    expect(page.locator(".idea-head .status")).to_have_text(say["under_review"])
    expect(page.locator("#history li").last).to_contain_text(say["note"])
    assert fits_the_screen(page)
    screenshot(page, f"ideas-idea-staff-{lang}-{'phone' if viewport is PHONE else 'desktop'}")

    page.locator("nav.subnav a[href='/ideas/moderation']").click()
    item = page.locator("ol.queue > li").filter(has_text=say["spam"])
    expect(item).to_be_visible()
    screenshot(page, f"ideas-moderation-{lang}")
    item.locator("input[name=reason]").fill("spam")
    item.get_by_role("button", name=say["hide"], exact=True).click()
    page.wait_for_url(re.compile(r"done=hide"))
    expect(page.locator("#form-notice")).to_have_text(say["hidden"])
    expect(page.locator("ol.queue > li").filter(has_text=say["spam"])).to_have_count(0)
    assert fits_the_screen(page)


def test_a_participant_votes_follows_and_comments_with_the_keyboard_alone(branch, open_page, screenshot):
    title = SAY["en"]["existing"].format(word=word())
    idea_id = branch.idea(branch.participant("Reem"), title, "A place to play after school.")
    page = open_page(locale="en-US", signed_in=branch.participant("Itai"))
    page.goto(f"/ideas/{idea_id}?lang=en")

    tab_to(page, "#vote-button")
    with page.expect_navigation():
        page.keyboard.press("Space")
    expect(page.locator("#vote-button")).to_have_attribute("aria-pressed", "true")

    tab_to(page, "#follow-button")
    expect(page.locator("#follow-button")).to_have_attribute("aria-pressed", "true")  # a voter follows
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("#follow-button")).to_have_attribute("aria-pressed", "false")

    tab_to(page, "#text-new")
    page.keyboard.type("Saturdays would suit families too.")
    tab_to(page, "#dialogue > form.comment-form button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("#dialogue .comment-text")).to_have_text("Saturdays would suit families too.")

    # a reply, opened and sent with the keyboard: the summary opens with Enter, the reply is indented
    tab_to(page, "#dialogue details > summary")
    page.keyboard.press("Enter")
    tab_to(page, "#dialogue textarea[name=text][id^=text-cm_]")
    page.keyboard.type("And Friday mornings.")
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("#dialogue .thread .thread .comment-text")).to_have_text("And Friday mornings.")
    tab_to(page, "#vote-button")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid", "focus is visible"
    screenshot(page, "ideas-idea-keyboard-en")
