"""End-to-end: an admin edits a notification template in Chromium, the preview follows the typing (HTMX
POST with the CSRF header), a broken template is shown on its field, and the pages fit a phone."""

from playwright.sync_api import expect

from gamify.models import NotificationTemplate
from tests import factories as f
from tests.browser.conftest import PHONE, sign_in


def test_admin_edits_a_template_and_the_preview_follows(db, page):
    m = f.metric("lessons", "Lessons", "lessons")
    f.streak({m: 1}, freeze_initial=1, freeze_max=3)
    f.web_player(name="Robin", attributes={"plan": "pro"})
    f.admin()
    sign_in(page, "admin@example.com")
    page.goto("/admin/templates/")
    page.get_by_role("row", name="E-mail Everyone").first.get_by_role("link", name="Edit").click()
    preview = page.locator("#preview")
    expect(preview.locator(".preview-subject")).to_have_text("Keep your 12-day streak going today")  # the sample
    page.get_by_label("Preview as player").fill("player@example.com")
    subject = page.get_by_label("Subject")
    subject.fill("{{ name }} ({{ player.attributes.plan }}): {{ streak.freezes }} freeze")
    expect(preview.locator(".preview-subject")).to_have_text("Robin (pro): 1 freeze")
    expect(preview.locator("iframe.email-preview")).to_have_attribute("sandbox", "")
    subject.fill("{{ name ")
    expect(preview.locator(".error")).to_contain_text("Subject:")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#subject-error")).to_contain_text("line 1")
    expect(subject).to_have_attribute("aria-invalid", "true")
    subject.fill("Hi {{ name }}")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success, .toast.success").first).to_contain_text("template saved")
    row = db.session.execute(db.select(NotificationTemplate)).scalar_one()
    assert (row.type, row.channel, row.subject) == ("streak_reminder", "email", "Hi {{ name }}")
    db.session.rollback()
    assert page.js_errors == []


def test_template_pages_fit_a_phone_screen(db, new_page):
    f.admin()
    db.session.commit()
    admin = new_page(PHONE)
    sign_in(admin, "admin@example.com")
    for path in ("/admin/templates/", "/admin/templates/recap/email", "/admin/templates/achievement/push/new"):
        admin.goto(path)
        admin.wait_for_load_state("networkidle")
        assert admin.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
    assert admin.js_errors == []
