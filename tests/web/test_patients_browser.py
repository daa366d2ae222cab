"""The patient pages in headless Chromium against a real `clinicdesk serve`: register,
search as you type, a stale edit, documents, and a duplicate found and merged."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.async_api import Browser, FilePayload, Page, expect

from tests.web.conftest import LiveClinic
from tests.web.test_browser import problems, sign_in, snap

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def unique(name: str) -> str:
    """A family name no other test registers on the shared server ("Quill" + letters)."""
    letters = "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:5])
    return name + letters


async def register(page: Page, clinic: LiveClinic, given: str, family: str, born: str) -> None:
    await page.goto(clinic.url + "/patients/new")
    await page.locator("#f-given_name").fill(given)
    await page.locator("#f-family_name").fill(family)
    await page.locator("#f-birth_date").fill(born)
    await page.locator("#f-sex_at_birth").select_option("female")
    await page.locator("#f-email").fill(f"{given.lower()}.{family.lower()}@example.org")
    await page.get_by_role("button", name="Register patient").click()


async def no_sideways_scroll(page: Page) -> bool:
    return bool(
        await page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


async def test_register_search_as_you_type_and_open_the_chart(
    page: Page, live_clinic: LiveClinic
) -> None:
    family = unique("Hollowell")
    await sign_in(page, live_clinic, live_clinic.doctor_email)
    await page.get_by_role("navigation").get_by_role("link", name="Patients").click()
    await expect(page.get_by_role("heading", name="Patients")).to_be_visible()
    await page.goto(live_clinic.url + "/patients/new")
    await snap(page, "patient-new")
    await register(page, live_clinic, "Winifred", family, "1948-11-30")
    await expect(page.get_by_text("registered with MRN")).to_be_visible()
    await expect(page.get_by_role("heading", name=f"Winifred {family}")).to_be_visible()
    await expect(page.get_by_text("Allergies not recorded")).to_be_visible()

    await page.goto(live_clinic.url + "/patients")
    search = page.get_by_label("Search patients")
    await search.press_sequentially(f"winfred {family[:-1]}", delay=30)  # a typo, as typed
    await expect(page.locator("#results")).to_contain_text("Matched on")
    result = page.locator("#results").get_by_role("link", name=f"{family}, Winifred")
    await expect(result).to_be_visible()
    await expect(page.locator("#results")).to_contain_text("11/30/1948")
    await snap(page, "patient-search")
    await result.click()
    await expect(page.get_by_role("heading", name=f"Winifred {family}")).to_be_visible()

    await page.get_by_text("+ Add an allergy").click()
    await page.locator("#allergies").get_by_label("Substance").fill("Penicillin")
    await page.locator("#allergies").get_by_label("Severity").select_option("severe")
    await page.locator("#allergies").get_by_role("button", name="Add").click()
    await expect(page.locator(".allergy-active")).to_contain_text("Penicillin")
    await snap(page, "patient-chart")

    await page.set_viewport_size({"width": 390, "height": 844})
    assert await no_sideways_scroll(page)
    await snap(page, "patient-chart-phone")
    assert problems(page) == []


async def test_a_stale_edit_shows_what_the_other_person_changed(
    browser: Browser, page: Page, live_clinic: LiveClinic
) -> None:
    family = unique("Stalewood")
    await sign_in(page, live_clinic, live_clinic.doctor_email)
    await register(page, live_clinic, "Agnes", family, "1970-01-15")
    await expect(page.get_by_role("heading", name=f"Agnes {family}")).to_be_visible()
    chart_url = page.url
    other = await page.context.new_page()
    await other.goto(chart_url + "/edit")
    await page.goto(chart_url + "/edit")

    await other.locator("#f-city").fill("Springfield")
    await other.get_by_role("button", name="Save changes").click()
    await expect(other.get_by_text("Demographics saved.")).to_be_visible()

    await page.locator("#f-postal_code").fill("02139")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.get_by_role("alert")).to_contain_text("Someone else changed this record")
    conflict = page.locator(".conflict")
    await expect(conflict).to_contain_text("City is now Springfield")
    await expect(page.locator("#f-postal_code")).to_have_value("02139")
    await snap(page, "patient-edit-conflict")

    await page.locator("#f-city").fill("Springfield")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.get_by_text("Demographics saved.")).to_be_visible()
    await expect(page.locator("#overview")).to_contain_text("02139 Springfield")
    assert [p for p in problems(page) if "status of 412" not in p] == []  # the conflict page


async def test_upload_a_pdf_and_download_it(
    page: Page, live_clinic: LiveClinic, tmp_path: Path
) -> None:
    family = unique("Papers")
    await sign_in(page, live_clinic, live_clinic.doctor_email)
    await register(page, live_clinic, "Doris", family, "1988-04-04")
    await expect(page.get_by_role("heading", name=f"Doris {family}")).to_be_visible()

    documents = page.locator("#documents")
    await documents.get_by_label("File").set_input_files(
        files=FilePayload(name="note.txt", mimeType="text/plain", buffer=b"plain text")
    )
    await documents.get_by_role("button", name="Upload").click()
    await expect(page.get_by_role("alert")).to_contain_text("Only PDF files and images")

    await documents.get_by_label("File").set_input_files(
        files=FilePayload(name="blood-count.pdf", mimeType="application/pdf", buffer=PDF)
    )
    await documents.get_by_label("Category").select_option("lab_result")
    await documents.get_by_label("Title").fill("Blood count")
    await documents.get_by_role("button", name="Upload").click()
    await expect(page.get_by_text("“Blood count” uploaded.")).to_be_visible()
    await snap(page, "patient-documents")

    async with page.expect_download() as info:
        await documents.get_by_role("link", name="Blood count").click()
    download = await info.value
    saved = tmp_path / "downloaded.pdf"
    await download.save_as(saved)
    assert saved.read_bytes() == PDF
    assert download.suggested_filename.endswith(".pdf")


async def test_a_near_duplicate_is_flagged_then_merged(page: Page, live_clinic: LiveClinic) -> None:
    family = unique("Quill")
    await sign_in(page, live_clinic, live_clinic.doctor_email)
    await register(page, live_clinic, "Theodora", family, "1975-05-05")
    await expect(page.get_by_role("heading", name=f"Theodora {family}")).to_be_visible()
    kept_url = page.url

    await register(page, live_clinic, "Teodora", family, "1975-05-05")
    warning = page.locator(".duplicate-warning")
    await expect(warning).to_contain_text("This person may already be registered")
    await expect(warning.get_by_role("link", name=f"Theodora {family}")).to_be_visible()
    await snap(page, "patient-duplicate-warning")
    await page.get_by_role("button", name="Register anyway").click()
    await expect(page.get_by_role("heading", name=f"Teodora {family}")).to_be_visible()
    duplicate_url = page.url

    await page.goto(kept_url)
    await page.get_by_role("button", name="Duplicates").click()
    await expect(page.get_by_role("cell", name=f"Teodora {family}", exact=True)).to_be_visible()
    await snap(page, "patient-duplicates")
    await page.get_by_role("button", name="Compare and merge").first.click()
    await expect(page.get_by_role("heading", name="Merge two records")).to_be_visible()
    await page.get_by_label("Why are these the same person?").fill("Registered twice, typo")
    await snap(page, "patient-merge")
    await page.get_by_role("button", name="Merge MRN").click()
    await expect(page.get_by_text("Records merged")).to_be_visible()
    await expect(page.locator(".merged-note")).to_contain_text("Merged from MRN")
    assert page.url == kept_url

    await page.goto(duplicate_url)  # the old link lands on the kept chart
    await expect(page.get_by_text("That record was merged into MRN")).to_be_visible()
    assert page.url == kept_url
    assert problems(page) == []
