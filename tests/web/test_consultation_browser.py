"""A whole consultation in headless Chromium against a real `clinicdesk serve`, as the
doctor: from the queue to the consultation page; vitals (an impossible value refused at
its field with the valid range, then a set with an abnormal value flagged); a note from
a template with a quick phrase expanded as typed; a diagnosis picked from the ICD-10-CM
search; a drug the patient is allergic to (the warning, then an override with a reason)
and an interacting pair (the interaction shown, overridden); the note signed; the
prescription printed (the PDF's text read back) and verified on the public page by a
pharmacy that is signed in nowhere; the consultation finished, back on the queue."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, Route, expect
from pypdf import PdfReader

from tests.conftest import TEST_FIELD_KEY, TEST_SECRET_KEY, copy_sqlite_database
from tests.support.consultation import LICENCE, CheckedIn, ready_for_consultation
from tests.support.identity import PASSWORD
from tests.support.queue import QueueClinic, seed_queue_database
from tests.support.server import running_server
from tests.web.conftest import PHONE_CONTEXT, new_page
from tests.web.test_browser import problems
from tests.web.test_browser import snap as screenshot

pytestmark = pytest.mark.browser

PATIENT = "Ann Queuea"  # the first patient of the queue clinic (born 1950: an adult)
CODE = re.compile(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}\b")


@dataclass(frozen=True)
class Clinic:
    url: str
    qc: QueueClinic
    arrived: CheckedIn


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Clinic]:
    """A server on its own SQLite database: Dr. Ada at Main Street (licence on file),
    Ann Queuea allergic to penicillin and checked in for her."""
    root = tmp_path_factory.mktemp("consultation")
    copy_sqlite_database(sqlite_template, root / "clinic.db")  # already migrated
    url = f"sqlite+aiosqlite:///{root / 'clinic.db'}"
    qc = asyncio.run(seed_queue_database(url, patients=1))
    env = {
        "CLINICDESK_DATABASE_URL": url,
        "CLINICDESK_SECRET_KEY": TEST_SECRET_KEY,
        "CLINICDESK_FIELD_ENCRYPTION_KEY": TEST_FIELD_KEY,
    }
    with running_server(root / "data", env=env) as base:
        arrived = asyncio.run(ready_for_consultation(base, qc))
        yield Clinic(base, qc, arrived)


@pytest.fixture
async def contexts(browser: Browser) -> AsyncIterator[list[BrowserContext]]:
    opened: list[BrowserContext] = []
    try:
        yield opened
    finally:
        for context in opened:
            await context.close()


async def snap(page: Page, name: str) -> None:
    """``test_browser.snap``, then without the empty ``style=""`` Playwright leaves on
    every input and textarea (it hides the caret for the screenshot): htmx copies an
    element's attributes onto its swapped-in twin, and the page's CSP (no inline style)
    refuses that one, a console error the product never causes."""
    await screenshot(page, name)
    await page.evaluate(
        "document.querySelectorAll('[style=\"\"]').forEach(e => e.removeAttribute('style'))"
    )


async def sign_in(page: Page, clinic: Clinic, email: str) -> None:
    await page.goto(clinic.url + "/login")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("navigation", name="Main")).to_be_attached()


async def add_note_template(page: Page, clinic: Clinic) -> None:
    """The doctor adds the clinic's note template on its settings page (templates are
    clinical text: doctors keep them, the admin role reads no notes)."""
    await page.goto(clinic.url + "/note-templates")
    form = page.locator("form[action='/note-templates']")
    await form.get_by_label("Name").fill("Hypertension review")
    await form.get_by_label("Subjective").fill("Here for a blood pressure review.")
    await form.get_by_label("Plan").fill("Recheck blood pressure in 4 weeks.")
    await form.get_by_role("button", name="Add template").click()
    await expect(page.locator("#flash-messages")).to_contain_text("Template Hypertension review")


async def record_vitals(page: Page) -> None:
    vitals = page.locator("#section-vitals")
    form = vitals.get_by_role("form", name="Record vitals")
    # Impossible: refused, at the field, with the valid range; what was typed stays.
    await form.get_by_label("Temperature").fill("52")
    await form.get_by_label("Pulse").fill("88")
    await form.get_by_role("button", name="Save vitals").click()
    error = vitals.locator("#v-temperature-error")
    await expect(error).to_contain_text(re.compile(r"25.*45"))
    await expect(vitals.get_by_label("Temperature")).to_have_attribute("aria-invalid", "true")
    await expect(vitals.get_by_label("Pulse")).to_have_value("88")
    await expect(vitals).to_contain_text("No vitals recorded yet.")
    await snap(page, "consultation-vitals-refused")

    # Possible, and the blood pressure is high for an adult: saved and flagged.
    form = vitals.get_by_role("form", name="Record vitals")
    await form.get_by_label("Temperature").fill("36.8")
    await form.get_by_label("Systolic").fill("152")
    await form.get_by_label("Diastolic").fill("96")
    await form.get_by_label("Weight").fill("70")
    await form.get_by_label("Height").fill("170")
    await form.get_by_role("button", name="Save vitals").click()
    await expect(vitals.get_by_role("status")).to_contain_text("Vitals saved.")
    abnormal = vitals.locator(".vitals-item.vitals-abnormal")
    await expect(abnormal).to_have_count(1)
    await expect(abnormal).to_contain_text("Blood pressure")
    await expect(abnormal).to_contain_text("152/96")
    await expect(abnormal.locator(".vital-flag")).to_have_text("High")
    normal = vitals.locator(".vitals-item", has_text="Pulse")
    await expect(normal).to_contain_text("88")
    await expect(normal.locator(".vital-flag")).to_have_count(0)
    await expect(vitals.locator(".vitals-item", has_text="BMI")).to_contain_text("24.2")
    await expect(vitals.locator(".field-error")).to_have_count(0)


async def write_note(page: Page) -> Locator:
    note = page.locator("#section-note")
    await expect(note.get_by_label("Template")).to_have_value(re.compile(".+"))
    await note.get_by_role("button", name="Apply to empty fields").click()
    await expect(page.locator("#flash-messages")).to_contain_text("Template applied")
    note = page.locator("#section-note")
    await expect(note.get_by_label("Subjective")).to_have_value("Here for a blood pressure review.")
    await expect(note.get_by_label("Plan")).to_have_value("Recheck blood pressure in 4 weeks.")

    # A quick phrase, expanded as it is typed: .bp and a space give the last blood pressure.
    objective = note.get_by_label("Objective")
    version = note.locator("#note-status input[name=draft_version]")
    before = int(await version.input_value())
    await objective.click()
    await objective.press_sequentially("Seated, rested. .bp ")
    await expect(objective).to_have_value(re.compile(r"^Seated, rested\. BP 152/96 mmHg.* $"))
    await objective.press_sequentially("on the right arm.")
    assessment = note.get_by_label("Assessment")
    await assessment.fill("Stage 2 hypertension, untreated.")
    # Saved as typed (htmx, on a pause or on leaving the field): the draft's version,
    # carried by the form for the next save, moves on.
    await assessment.blur()
    await expect(version).not_to_have_value(str(before))
    assert int(await version.input_value()) > before
    await expect(note.locator(".badge-note-draft")).to_have_text("Draft")
    await snap(page, "consultation-note-draft")
    return objective


async def add_diagnosis(page: Page) -> None:
    section = page.locator("#section-diagnoses")
    code = section.get_by_label("ICD-10-CM code or words")
    await code.press_sequentially("essential hypert", delay=20)
    # The search answers into the field's list of suggestions; picking one puts its
    # value (the code) in the field, as choosing from the browser's list does.
    option = section.locator("#dx-codes option[value='I10']")
    await expect(option).to_have_count(1)
    await expect(option).to_have_text(re.compile(r"I10 — Essential \(primary\) hypertension"))
    await code.fill(await option.get_attribute("value") or "")
    await section.get_by_role("button", name="Add diagnosis").click()
    section = page.locator("#section-diagnoses")
    await expect(section.get_by_role("status")).to_have_text("Diagnosis added.")
    item = section.locator(".dx-item")
    await expect(item).to_have_count(1)
    await expect(item.locator(".dx-code")).to_have_text("I10")
    await expect(item).to_contain_text("Essential (primary) hypertension")
    await expect(item.locator(".dx-primary")).to_have_text("Primary")


async def prescribe(
    page: Page, typed: str, pick: str, *, strength: str, frequency: str, days: str
) -> Locator:
    """Pick the drug from the vocabulary and fill the structure; answer the section's
    form (the findings show in its preview)."""
    section = page.locator("#section-prescriptions")
    form = section.locator("form[data-rx-form]")
    await form.get_by_label(re.compile("^Drug")).press_sequentially(typed, delay=20)
    option = form.get_by_role("option", name=re.compile(pick, re.IGNORECASE)).first
    await option.click()
    await expect(form.locator("[data-rx-coded]")).to_have_text("Coded from the drug vocabulary.")
    await form.get_by_label("Strength").fill(strength)
    await form.get_by_label("Frequency").select_option(label=frequency)
    await form.get_by_label("Days").fill(days)
    await form.get_by_label("Days").blur()  # a change: the preview asks again
    # The previews queue (the last one runs last): the sig with the days is the last.
    await expect(form.locator(".rx-sig")).to_contain_text(f"for {days} days")
    return form


async def a_late_preview_keeps_the_typed_reason(page: Page, form: Locator) -> None:
    """A preview asked for before the reason was typed lands after it: the reason stays
    (it was swapped away, and the prescription then refused for the want of it)."""

    async def slowly(route: Route) -> None:
        await asyncio.sleep(0.8)
        await route.continue_()

    await page.route("**/prescriptions/preview", slowly)
    swapped = asyncio.ensure_future(
        page.evaluate(
            """() => new Promise((landed) => document.addEventListener("htmx:afterSwap",
                (event) => { if (event.detail.target.id === "rx-preview") landed(true); }))"""
        )
    )
    await form.get_by_label("Refills").fill("1")
    await form.get_by_label("Refills").blur()  # a change: a preview is asked for (slowly)
    reason = form.get_by_label(re.compile("^Reason to override"))
    await reason.fill("Typed while the preview was on its way")  # before it lands
    assert await swapped
    await page.unroute("**/prescriptions/preview", slowly)
    await expect(form.locator("#rx-override")).to_have_value(
        "Typed while the preview was on its way"
    )
    await form.get_by_label("Refills").fill("0")
    await form.get_by_label("Refills").blur()


async def override_and_prescribe(page: Page, form: Locator, reason: str, drug: str) -> None:
    findings = form.locator(".rx-findings")
    await findings.get_by_label(re.compile("^Reason to override")).fill(reason)
    await form.get_by_role("button", name="Prescribe").click()
    section = page.locator("#section-prescriptions")
    await expect(section.get_by_role("status")).to_contain_text(f"Prescribed {drug}")
    line = section.locator(".rx-item", has_text=drug)
    await expect(line.locator(".rx-badge-override")).to_have_attribute("title", reason)


async def print_and_read(page: Page) -> tuple[str, str]:
    """Print (the button opens the PDF in a new tab); fetch the PDF with the page's own
    session (its request context shares the cookies) and read its text."""
    section = page.locator("#section-prescriptions")
    async with page.context.expect_page() as opened:
        await section.get_by_role("button", name="Print prescription (PDF)").click()
    tab = await opened.value
    await tab.wait_for_url(re.compile(r"/prescription-sheets/[0-9a-f-]+\.pdf$"))
    pdf_url = tab.url
    await tab.close()
    answer = await page.request.get(pdf_url)
    assert answer.ok, answer.status
    assert answer.headers["content-type"] == "application/pdf"
    body = await answer.body()
    text = "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(body)).pages)
    return pdf_url, text


async def test_a_whole_consultation(
    browser: Browser, clinic: Clinic, contexts: list[BrowserContext]
) -> None:
    qc = clinic.qc
    doctor = await new_page(browser, contexts, viewport={"width": 1366, "height": 900})
    await sign_in(doctor, clinic, qc.doctor_email)
    await add_note_template(doctor, clinic)

    # 1. From the queue: call the patient, start, on to the consultation page.
    await doctor.goto(clinic.url + "/queue/mine")
    await doctor.get_by_label("Your room").select_option("Room 2")
    await doctor.get_by_role("button", name=re.compile("Call next")).click()
    mine = doctor.locator("#q-mine")
    await expect(mine).to_contain_text("Called to Room 2")
    await expect(mine).to_contain_text(PATIENT)
    await doctor.get_by_role("button", name="Start consultation").click()
    await doctor.wait_for_url(re.compile(r"/encounters/[0-9a-f-]+$"))
    encounter_url = doctor.url
    await expect(doctor.get_by_role("heading", level=1, name=PATIENT)).to_be_visible()
    await expect(doctor.locator(".consult-state .badge")).to_have_text("In progress")
    await expect(doctor.locator("body")).to_contain_text("Penicillin")  # the allergy banner
    await snap(doctor, "consultation-start")

    # 2. Vitals: one refused, one flagged.
    await record_vitals(doctor)
    # The banner's latest weight follows, without reloading the page.
    await expect(doctor.locator(".consult-banner")).to_contain_text("Weight 70 kg")

    # 3. The note from the template, with a quick phrase.
    objective = await write_note(doctor)

    # 4. A diagnosis from the ICD-10-CM search.
    await add_diagnosis(doctor)

    # 5. Amoxicillin for a penicillin-allergic patient: the warning, the override.
    form = await prescribe(
        doctor, "amoxi", "^amoxicillin", strength="500 mg", frequency="Three times daily", days="7"
    )
    allergy = form.locator(".rx-finding", has_text=re.compile("allerg", re.IGNORECASE))
    await expect(allergy).to_be_visible()
    await expect(allergy).to_contain_text(re.compile("penicillin", re.IGNORECASE))
    await expect(form.locator(".rx-sig")).to_contain_text(re.compile("three times daily", re.I))
    # Without a reason, the prescription is refused and the findings stay.
    await form.get_by_role("button", name="Prescribe").click()
    section = doctor.locator("#section-prescriptions")
    await expect(section.locator(".rx-notice")).to_contain_text("give a reason to override")
    await expect(section.locator(".rx-item")).to_have_count(0)
    await snap(doctor, "consultation-allergy-warning")
    await override_and_prescribe(
        doctor,
        section.locator("form[data-rx-form]"),
        "Tolerated amoxicillin in 2024; rash history only",
        "Amoxicillin",
    )

    # 6. An interacting pair: warfarin, then ibuprofen (an NSAID).
    form = await prescribe(
        doctor, "warfa", "^warfarin", strength="5 mg", frequency="Once daily", days="30"
    )
    await expect(form.locator("#rx-preview")).to_contain_text(re.compile("Sig:"))
    # Warfarin alone has nothing against this patient.
    await expect(form.locator(".rx-findings")).to_have_count(0)
    await form.get_by_role("button", name="Prescribe").click()
    section = doctor.locator("#section-prescriptions")
    await expect(section.get_by_role("status")).to_contain_text("Prescribed Warfarin")
    form = await prescribe(
        doctor, "ibupro", "^ibuprofen", strength="400 mg", frequency="Three times daily", days="5"
    )
    interaction = form.locator(".rx-finding", has_text=re.compile("warfarin", re.IGNORECASE))
    await expect(interaction).to_be_visible()
    await expect(interaction).to_contain_text(re.compile("bleeding", re.IGNORECASE))
    await expect(interaction).to_contain_text("Phansalkar")  # the source, named
    await snap(doctor, "consultation-interaction")
    await a_late_preview_keeps_the_typed_reason(doctor, form)
    await override_and_prescribe(
        doctor, form, "Short course; INR check booked on day 3", "Ibuprofen"
    )
    await expect(section.locator(".rx-item")).to_have_count(3)

    # 7. Sign the note: it is locked, shown read-only, with who signed.
    await expect(objective).to_have_value(re.compile("on the right arm"))
    await doctor.locator("#section-note").get_by_role("button", name="Sign note").click()
    await expect(doctor.locator("#flash-messages")).to_contain_text("Note signed.")
    note = doctor.locator("#section-note")
    await expect(note.locator(".badge-note-signed")).to_have_text("Signed")
    await expect(note.locator(".note-signed")).to_contain_text("Signed by")
    await expect(note).to_contain_text("BP 152/96 mmHg")
    await expect(note).to_contain_text("Stage 2 hypertension, untreated.")
    await expect(note.get_by_role("textbox")).to_have_count(0)
    await snap(doctor, "consultation-signed")

    # 8. Print the prescription: the PDF says who, what, by whom, and its code.
    _pdf_url, text = await print_and_read(doctor)
    flat = " ".join(text.split())
    for words in (PATIENT, "Amoxicillin 500 mg", "Warfarin 5 mg", "Ibuprofen 400 mg", "Dr. Ada"):
        assert words in flat, (words, flat)
    assert LICENCE in flat, flat
    code = CODE.search(flat)
    assert code, flat

    # 9. A pharmacy checks it: a fresh browser, signed in nowhere.
    pharmacy = await new_page(browser, contexts, viewport={"width": 1024, "height": 768})
    await pharmacy.goto(f"{clinic.url}/rx/{code.group(0)}")
    await expect(pharmacy.get_by_role("heading", name="Check a prescription")).to_be_visible()
    await expect(pharmacy.get_by_role("status")).to_contain_text("✓ Valid")
    facts = pharmacy.locator(".rx-facts")
    await expect(facts).to_contain_text("Dr. Ada")
    await expect(facts).to_contain_text(LICENCE)
    await expect(facts).to_contain_text("A.Q.")  # initials only
    await expect(facts.locator("dt:text-is('Items') + dd")).to_have_text("3")
    body = pharmacy.locator("body")
    await expect(body).not_to_contain_text("Queuea")
    await expect(body).not_to_contain_text("Ann")
    await expect(body).not_to_contain_text(re.compile("amoxicillin", re.IGNORECASE))
    await snap(pharmacy, "consultation-rx-verified")

    # The consultation page at a phone's width, as it stands before finishing.
    phone = await new_page(
        browser,
        contexts,
        **PHONE_CONTEXT,
        storage_state=await doctor.context.storage_state(),
    )
    await phone.goto(encounter_url)
    await expect(phone.get_by_role("heading", level=1, name=PATIENT)).to_be_visible()
    await snap(phone, "consultation-phone")
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 390

    # 10. Finish: back on the queue for the next patient.
    await doctor.get_by_role("button", name="Finish consultation").click()
    await doctor.wait_for_url(re.compile(r"/queue/mine"))
    await expect(doctor.locator("#flash-messages")).to_contain_text("Consultation finished")
    await expect(doctor.locator("#q-mine")).to_contain_text("Nobody with you")
    await doctor.goto(encounter_url)
    await expect(doctor.locator(".consult-state .badge")).to_have_text("Finished")

    for page in (doctor, pharmacy, phone):
        assert problems(page) == [], problems(page)
