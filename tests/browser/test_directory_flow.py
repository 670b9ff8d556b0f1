"""The directory in real Chromium: an org admin signs in, switches to Hebrew, opens a branch, creates an invite,
and a client joins the branch through it, on a phone, with the keyboard alone."""
import os
import re
import uuid

import pytest

from services.directory.worker import DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASSWORD

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def test_an_admin_opens_a_branch_and_invites_a_client_who_joins_through_it(open_page, screenshot):
    code = f"BR{uuid.uuid4().hex[:6].upper()}"
    admin = open_page(locale="en-US")
    admin.goto("/directory/signin?lang=en&next=/directory/admin/branches")
    assert admin.locator("html").get_attribute("dir") == "ltr"
    admin.get_by_label("E-mail").fill(os.environ.get("COCREATE_ADMIN_EMAIL", DEFAULT_ADMIN_EMAIL))
    admin.get_by_label("Password").fill(os.environ.get("COCREATE_ADMIN_PASSWORD", DEFAULT_ADMIN_PASSWORD))
    admin.get_by_role("button", name="Sign in").click()
    admin.wait_for_url(re.compile(r"/directory/admin/branches"))

    admin.locator("#lang-switch").click()  # to Hebrew
    admin.wait_for_function("document.documentElement.lang === 'he'")
    assert admin.locator("html").get_attribute("dir") == "rtl"
    admin.locator("#branch-code").fill(code)
    admin.locator("#branch-name-he").fill("נצרת עילית")
    admin.locator("#branch-name-en").fill("Nof HaGalil")
    admin.get_by_role("button", name="פתיחת הסניף").click()
    assert admin.get_by_role("status").inner_text().startswith(f"סניף {code}")
    assert admin.locator(".tree").get_by_text(code).is_visible()
    screenshot(admin, "directory-branches-he")

    admin.goto("/directory/admin/invites")
    admin.locator("#invite-branch").select_option(label="נצרת עילית")
    admin.get_by_role("button", name="יצירת קוד").click()
    invite = re.search(r"([A-Z2-9]{8})$", admin.get_by_role("status").inner_text().strip()).group(1)
    admin.locator("#print-created").click()
    assert admin.locator("figure.qr svg").is_visible() and admin.get_by_text(invite, exact=True).is_visible()
    screenshot(admin, "directory-invite-print-he")

    client = open_page(viewport=PHONE, locale="en-US")
    client.goto(f"/directory/join/{invite}?lang=en")
    assert client.get_by_role("heading", level=1).inner_text() == "Join Nof HaGalil"
    client.locator("#name").focus()
    client.keyboard.type("Maya")
    client.keyboard.press("Tab")  # language
    client.keyboard.press("Tab")  # e-mail
    client.keyboard.press("Tab")  # age group
    client.keyboard.press("End")  # the last age group, chosen with the keyboard
    for _ in range(5):  # population group (if any), then the consent box
        client.keyboard.press("Tab")
        if client.evaluate("document.activeElement.id") == "consent":
            break
    client.keyboard.press("Space")
    client.keyboard.press("Enter")  # submits the form
    client.wait_for_url(re.compile(r"/ideas/"))
    assert client.locator(".viewer-name").inner_text() == "Maya"
    assert client.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    client.goto("/directory/me")
    assert client.locator("#age_group").input_value() == "65_plus"
    screenshot(client, "directory-profile-phone-en")
