"""The frame every service's pages share, in real Chromium through the edge: direction, the language switch,
phone widths, landmarks and the skip link, and CSRF on the frame's own form."""
import pytest

from shared.auth import BRANCH_MANAGER, Principal
from shared.config import SERVICES

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
HEADINGS = {"ideas": ("רעיונות", "Ideas"), "feedback": ("משוב", "Feedback"),
            "notifications": ("הודעות", "Inbox"), "directory": ("מדריך", "Directory")}
STAFF = Principal(id="pe_browser", name="Dana Levi-Rosenberg",
                  branch_roles={"br_haifa": frozenset({BRANCH_MANAGER}), "br_acre": frozenset({BRANCH_MANAGER})})


def language(page) -> tuple[str, str]:
    return page.evaluate("[document.documentElement.lang, document.documentElement.dir]")


def tab_to(page, selector: str, limit: int = 20) -> None:
    """Press Tab until the element matching selector has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} was not reached with {limit} presses of Tab")


def test_the_ideas_home_page_in_hebrew_reads_right_to_left_and_in_english_left_to_right(page, screenshot):
    page.goto("/ideas/?lang=he")
    assert language(page) == ["he", "rtl"]
    assert page.get_by_role("heading", level=1).inner_text() == "רעיונות"
    first, second = (page.locator(".services a").nth(i).bounding_box() for i in (0, 1))
    assert first["x"] > second["x"], "in Hebrew the navigation starts on the right"
    screenshot(page, "desktop-ideas-he")

    page.goto("/ideas/?lang=en")
    assert language(page) == ["en", "ltr"]
    assert page.get_by_role("heading", level=1).inner_text() == "Ideas"
    first, second = (page.locator(".services a").nth(i).bounding_box() for i in (0, 1))
    assert first["x"] < second["x"], "in English the navigation starts on the left"
    screenshot(page, "desktop-ideas-en")


def test_switching_language_with_the_keyboard_alone_changes_the_page_and_sticks_across_services(page):
    page.goto("/ideas/")
    assert language(page) == ["he", "rtl"]  # a Hebrew browser, nothing chosen yet

    tab_to(page, "#lang-switch")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert language(page) == ["en", "ltr"]
    assert page.get_by_role("heading", level=1).inner_text() == "Ideas"

    page.goto("/feedback/")
    assert language(page) == ["en", "ltr"]
    assert page.get_by_role("heading", level=1).inner_text() == "Feedback"

    tab_to(page, "#lang-switch")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert language(page) == ["he", "rtl"]
    assert page.url.split("?")[0].endswith("/feedback/"), "the switch returns to the same page"
    page.goto("/notifications/")
    assert language(page) == ["he", "rtl"]


@pytest.mark.parametrize("who", ["anonymous", "signed-in"])
@pytest.mark.parametrize("width", [360, 390])
def test_on_a_phone_nothing_scrolls_sideways_on_any_home_page(open_page, screenshot, who, width):
    for lang in ("he", "en"):
        page = open_page(viewport=dict(PHONE, width=width), signed_in=STAFF if who == "signed-in" else None)
        for service in SERVICES:
            page.goto(f"/{service}/?lang={lang}")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{service} ({lang}, {who}, {width} px) is {overflow} px too wide"
            wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
                .filter(e => { const r = e.getBoundingClientRect(); return r.width && (r.left < -1 || r.right > window.innerWidth + 1); })
                .map(e => e.tagName + '.' + e.className)""")
            assert not wide, f"{service} ({lang}, {who}, {width} px): elements outside the screen: {wide}"
            if service == "ideas" and width == 390:
                screenshot(page, f"phone-ideas-{lang}-{who}")


def test_every_home_page_has_landmarks_and_a_skip_link_that_moves_focus_to_main(page):
    for service in SERVICES:
        page.goto(f"/{service}/")
        for role in ("banner", "navigation", "main", "contentinfo"):
            assert page.get_by_role(role).count() == 1, f"{service}: no single {role} landmark"
        assert page.get_by_role("heading", level=1).inner_text() == HEADINGS[service][0]

        page.keyboard.press("Tab")
        skip = page.locator(".skip-link")
        assert page.evaluate("document.activeElement.classList.contains('skip-link')"), f"{service}: Tab 1"
        box = skip.bounding_box()
        assert box and box["y"] >= 0 and box["height"] > 0, f"{service}: the focused skip link is not visible"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main", f"{service}: focus did not move to main"


def test_the_signed_in_header_shows_the_person_and_its_sign_out_form_is_refused_without_the_csrf_token(open_page):
    page = open_page(signed_in=STAFF)
    page.goto("/ideas/?lang=en")
    assert page.locator(".viewer-name").inner_text() == "Dana Levi-Rosenberg"
    assert page.locator(".viewer-context").inner_text().startswith("Branch manager · ")
    assert page.locator("#unread-badge").get_attribute("data-count-url") == "/notifications/api/v1/inbox/unread-count"

    page.evaluate("document.querySelector('.sign-out input[name=csrf_token]').remove()")
    with page.expect_response(lambda r: r.url.endswith("/directory/signout")) as refused:
        page.get_by_role("button", name="Sign out").click()
    assert refused.value.status == 403
    assert refused.value.headers["content-type"] == "application/problem+json"

    page.goto("/ideas/?lang=en")
    with page.expect_response(lambda r: r.url.endswith("/directory/signout")) as sent:
        page.get_by_role("button", name="Sign out").click()
    assert sent.value.status != 403  # passes the check (the directory's sign-out answers from here on)
    page.wait_for_load_state()  # the navigation it started ends before the page is closed
