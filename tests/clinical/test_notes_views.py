"""The consultation's "Note" section and the note pages, on SQLite and PostgreSQL:
autosave (the status, a stale save showing both texts, "keep mine"), a template from the
picker, sign, addenda under the signed note, the history, and the doctors' pages for
templates and quick phrases."""

from __future__ import annotations

import re

from tests.clinical.conftest import People
from tests.clinical.test_notes import _phone_encounter
from tests.support.queue import QueueClinic

HX = {"HX-Request": "true"}


def _version(html: str) -> str:
    found = re.search(r'name="draft_version" value="(\d*)"', html)
    assert found is not None, html
    return found.group(1)


async def test_the_note_saves_as_typed_and_a_stale_save_shows_both_texts(
    people: People, qc: QueueClinic
) -> None:
    encounter_id = await _phone_encounter(people, qc)
    web = await people.web("doctor")
    page = await web.get(f"/encounters/{encounter_id}")
    assert page.status_code == 200
    assert 'id="section-note"' in page.text
    assert 'hx-trigger="keyup changed delay:3s, blur changed"' in page.text
    assert "/static/notes.js" in page.text
    assert _version(page.text.split('id="note-status"')[1]) == ""

    first = await web.post(
        f"/encounters/{encounter_id}/note",
        data={"subjective": "Headache", "draft_version": ""},
        headers=HX,
    )
    assert first.status_code == 200
    assert re.search(r"Saved \d\d:\d\d", first.text), first.text
    assert _version(first.text) == "1"

    # Another tab saves on version 1; this tab, still on 1, is told and shown both.
    await web.post(
        f"/encounters/{encounter_id}/note",
        data={"subjective": "Headache since Monday", "draft_version": "1"},
        headers=HX,
    )
    stale = await web.post(
        f"/encounters/{encounter_id}/note",
        data={"subjective": "Headache, worse at night", "draft_version": "1"},
        headers=HX,
    )
    assert stale.status_code == 200
    assert "Not saved" in stale.text
    assert "Headache since Monday" in stale.text  # the saved version, beside the fields
    assert "Keep mine" in stale.text
    assert _version(stale.text) == "1"  # still stale: the next autosave does not overwrite
    kept = await web.post(
        f"/encounters/{encounter_id}/note",
        data={"subjective": "Headache, worse at night", "draft_version": "1", "overwrite": "2"},
        headers=HX,
    )
    assert "Saved" in kept.text and _version(kept.text) == "3"

    # Signing from a stale page does not drop what was typed: the page again, both texts.
    refused = await web.post(
        f"/encounters/{encounter_id}/note/sign",
        data={"subjective": "Typed, then signed too late", "draft_version": "1"},
    )
    assert refused.status_code == 412
    assert "Typed, then signed too late" in refused.text
    assert "Keep mine" in refused.text and "Headache, worse at night" in refused.text

    # A closed tab reopens the server's draft.
    again = await web.get(f"/encounters/{encounter_id}/sections/note", headers=HX)
    assert "Headache, worse at night" in again.text
    assert 'id="note-subjective"' in again.text


async def test_sign_from_the_page_then_addenda_show_under_the_note_and_in_the_history(
    people: People, qc: QueueClinic
) -> None:
    encounter_id = await _phone_encounter(people, qc)
    web = await people.web("doctor")
    signed = await web.post(
        f"/encounters/{encounter_id}/note/sign",
        data={"subjective": "Rash on arm", "plan": "Emollient", "draft_version": ""},
    )
    assert signed.status_code == 303
    page = await web.get(f"/encounters/{encounter_id}")
    assert "Signed by" in page.text and "Rash on arm" in page.text
    assert 'id="note-form"' not in page.text  # locked: no editing form
    note_id = re.search(r"/notes/([0-9a-f-]{36})/addenda", page.text)
    assert note_id is not None
    no_reason = await web.post(
        f"/notes/{note_id.group(1)}/addenda",
        data={"kind": "amendment", "text": "Left arm, not right."},
    )
    assert no_reason.status_code == 422  # the page again, the text kept in the form
    assert ">Left arm, not right.</textarea>" in no_reason.text
    added = await web.post(
        f"/notes/{note_id.group(1)}/addenda",
        data={"kind": "amendment", "text": "Left arm, not right.", "reason": "Wrong side"},
    )
    assert added.status_code == 303
    page = await web.get(f"/encounters/{encounter_id}")
    body = page.text.split('id="section-note"')[1]
    assert body.index("Rash on arm") < body.index("Left arm, not right.")
    assert "Amendment" in body and "Wrong side" in body

    history = await web.get(f"/notes/{note_id.group(1)}/history")
    assert history.status_code == 200
    for word in ("Started", "Signed", "Amendment", "Left arm, not right."):
        assert word in history.text
    desk = await people.web("desk")
    assert (await desk.get(f"/notes/{note_id.group(1)}/history")).status_code == 403


async def test_doctors_keep_templates_and_phrases_and_the_picker_fills_the_note(
    people: People, qc: QueueClinic
) -> None:
    web = await people.web("doctor")
    listed = await web.get("/note-templates")
    assert listed.status_code == 200 and "Add a note template" in listed.text
    refused = await web.post("/note-templates", data={"name": ""})
    assert refused.status_code == 422 and "Name" in refused.text
    added = await web.post(
        "/note-templates", data={"name": "Sick note", "objective": "Afebrile.", "plan": "Rest"}
    )
    assert added.status_code == 303
    template_id = re.search(
        r"/note-templates/([0-9a-f-]{36})", (await web.get("/note-templates")).text
    )
    assert template_id is not None
    one = await web.get(f"/note-templates/{template_id.group(1)}")
    assert "Afebrile." in one.text
    saved = await web.post(
        f"/note-templates/{template_id.group(1)}",
        data={"name": "Sick note", "objective": "Afebrile.", "plan": "Rest 3 days", "version": "1"},
    )
    assert saved.status_code == 303

    phrase = await web.post("/quick-phrases", data={"trigger": "rest", "expansion": "Rest."})
    assert phrase.status_code == 303
    page = await web.get("/quick-phrases")
    assert ".rest" in page.text and ".meds" in page.text
    taken = await web.post("/quick-phrases", data={"trigger": "age", "expansion": "x"})
    assert taken.status_code == 409 and "built in" in taken.text

    encounter_id = await _phone_encounter(people, qc)
    note_page = await web.get(f"/encounters/{encounter_id}")
    assert "Sick note" in note_page.text  # the picker
    assert "rest" in re.search(r'data-triggers="([^"]*)"', note_page.text).group(1)  # type: ignore[union-attr]
    applied = await web.post(
        f"/encounters/{encounter_id}/note/template",
        data={"template_id": template_id.group(1), "plan": "Paracetamol", "draft_version": ""},
    )
    assert applied.status_code == 303
    section = await web.get(f"/encounters/{encounter_id}/sections/note", headers=HX)
    assert "Afebrile." in section.text and "Paracetamol" in section.text
    assert "Rest 3 days" not in section.text  # the plan was already written

    admin = await people.web("admin")
    assert (await admin.get("/note-templates")).status_code == 403
