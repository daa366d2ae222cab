"""Quick phrases: the pure matching (property tests), the builtins that read the chart
(.meds, .allergies, .problems, .age), written phrases (one's own over the clinic's), and
the expansion over the API and for the page's script."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from clinicdesk.clinical.kernel.phrases import age_text, find_triggers, replace_triggers
from clinicdesk.clinical.service import phrases
from tests.clinical.conftest import People
from tests.clinical.test_notes import _phone_encounter
from tests.support.queue import QueueClinic

WORDS = st.text(alphabet="abcdefgh ,;:\n.", max_size=60)


@given(WORDS)
def test_text_with_no_known_trigger_is_left_as_typed(text: str) -> None:
    assert replace_triggers(text, {}) == text


PLAIN = st.text(alphabet="abcdefgh ,;:\n", max_size=60)


@given(st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True), PLAIN, PLAIN)
def test_a_standalone_trigger_is_found_and_replaced(word: str, before: str, after: str) -> None:
    text = f"{before} .{word} {after}"
    assert find_triggers(text) == {word}
    assert replace_triggers(text, {word: "<X>"}) == f"{before} <X> {after}"


def test_triggers_inside_words_numbers_and_abbreviations_are_not_triggers() -> None:
    assert find_triggers("e.g. 3.5 mg, notes.meds and ..meds") == set()
    assert find_triggers(".Meds, .allergies.") == {"meds", "allergies"}
    assert replace_triggers("Plan: .rtc", {"rtc": "Return to clinic in 2 weeks."}) == (
        "Plan: Return to clinic in 2 weeks."
    )


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 1, 1)))
def test_an_age_is_never_negative_and_reads_as_a_unit(born: date) -> None:
    today = date(2030, 1, 1)
    said = age_text(born, today)
    number, unit = said.split(" ", 1)
    assert int(number) >= 0
    assert unit.rstrip("s") in ("year", "month", "day")


def test_ages_read_as_a_clinician_says_them() -> None:
    today = date(2026, 12, 5)
    assert age_text(date(1980, 12, 6), today) == "45 years"
    assert age_text(date(2025, 10, 5), today) == "14 months"
    assert age_text(date(2026, 11, 26), today) == "9 days"


def test_the_builtins_are_registered_where_bp_joins() -> None:
    assert {"meds", "allergies", "problems", "age"} <= set(phrases.BUILTINS)


async def test_meds_allergies_and_written_phrases_expand_for_the_notes_patient(
    people: People, qc: QueueClinic
) -> None:
    doctor = await people.api("doctor")
    patient = qc.patient_ids[1]
    await doctor.post(
        f"/api/v1/patients/{patient}/medications",
        json={"name": "Metformin", "dose": "500 mg", "frequency": "twice daily"},
    )
    stopped = await doctor.post(f"/api/v1/patients/{patient}/medications", json={"name": "Aspirin"})
    assert stopped.status_code == 201, stopped.text
    await doctor.put(
        f"/api/v1/patients/{patient}/medications/{stopped.json()['id']}",
        json={"name": "Aspirin", "status": "stopped"},
        headers={"If-Match": stopped.headers["ETag"]},
    )
    await doctor.post(
        f"/api/v1/patients/{patient}/allergies",
        json={"substance": "Penicillin", "reaction": "Rash"},
    )
    shared = await doctor.post(
        "/api/v1/quick-phrases",
        json={"trigger": ".rtc", "expansion": "Return in 4 weeks.", "shared": True},
    )
    own = await doctor.post(
        "/api/v1/quick-phrases", json={"trigger": "rtc", "expansion": "Return in 2 weeks."}
    )
    assert shared.status_code == own.status_code == 201, own.text
    builtin = await doctor.post("/api/v1/quick-phrases", json={"trigger": "meds", "expansion": "x"})
    assert builtin.status_code == 409
    taken = await doctor.post("/api/v1/quick-phrases", json={"trigger": "rtc", "expansion": "x"})
    assert taken.status_code == 409

    encounter_id = await _phone_encounter(people, qc, patient=1)
    note = await doctor.post(f"/api/v1/encounters/{encounter_id}/notes", json={})
    expanded = await doctor.post(
        f"/api/v1/notes/{note.json()['id']}/expand",
        json={"text": "Meds: .meds\nAllergies: .allergies\nProblems: .problems\n.rtc e.g. .nope"},
    )
    assert expanded.status_code == 200, expanded.text
    text = expanded.json()["text"]
    assert "Metformin 500 mg, twice daily" in text
    assert "Aspirin" not in text  # stopped: not a current medication
    assert "Penicillin (Rash)" in text
    assert "No active problems recorded." in text
    assert "Return in 2 weeks." in text  # one's own phrase wins over the clinic's
    assert text.endswith("e.g. .nope")  # unknown triggers stay as typed

    # Another doctor gets the clinic's phrase, not Dr. Ada's own.
    other = await people.api("other_doctor")
    listed = await other.get("/api/v1/quick-phrases")
    assert [p["expansion"] for p in listed.json()["items"]] == ["Return in 4 weeks."]

    # The page's script asks with the trigger just typed.
    web = await people.web("doctor")
    answer = await web.post(f"/encounters/{encounter_id}/note/expand", data={"text": ".age"})
    assert answer.status_code == 200
    assert answer.json()["text"].endswith("years")
