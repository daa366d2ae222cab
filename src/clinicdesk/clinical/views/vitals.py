"""Vital signs in the browser: the consultation's "Vitals" section (the latest set and,
for nurses and doctors, the form), entered-in-error from it, the patient's trends page
(one chart per kind, drawn by ``vitals-chart.js``) and the unit-system settings page."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.clinical.access import ClinicalRead, VitalsWrite
from clinicdesk.clinical.kernel import growth
from clinicdesk.clinical.kernel.units import UNIT_LABELS, UnitSystem, plain
from clinicdesk.clinical.kernel.vital_ranges import (
    BMI,
    BY_CODE,
    DIASTOLIC,
    ENTERED,
    HEAD,
    SYSTOLIC,
    Flag,
    Vital,
    years_old,
)
from clinicdesk.clinical.schemas.vitals import ClinicalSettingsWrite, EnteredInError, VitalsRecord
from clinicdesk.clinical.service import vitals
from clinicdesk.clinical.views.consultation import _desk
from clinicdesk.clinical.views.sections import Desk, section
from clinicdesk.core.actor import Actor
from clinicdesk.core.errors import ClinicError
from clinicdesk.core.forms import FormInvalid, form_text, parse_form
from clinicdesk.core.http import FormVersion
from clinicdesk.core.models import utcnow
from clinicdesk.core.pages import all_or_nothing, flash, redirect, render
from clinicdesk.core.permissions import Permission
from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.core.settings_index import Refused
from clinicdesk.identity import public as identity
from clinicdesk.identity.auth import AdminSettings
from clinicdesk.patients import public as patients

router = APIRouter(include_in_schema=False)

SECTION = "clinical/_vitals.html"
SETTINGS_PAGE = "/admin/settings/vitals"
# Head circumference is measured in the first years (WHO charts run to 5 years).
HEAD_CIRCUMFERENCE_UNTIL_YEARS = 3
FIELDS = tuple(v.key for v in ENTERED)


def trends_url(patient_id: uuid.UUID) -> str:
    return f"/patients/{patient_id}/vitals"


def _unit(vital: Vital, system: UnitSystem) -> str:
    return UNIT_LABELS[vital.unit_in(system)]


def shown_rows(latest: vitals.VitalsSet | None, system: UnitSystem) -> list[dict[str, Any]]:
    """The latest set as lines to show: label, value with unit, the flag words (a blood
    pressure is one line of its two numbers) and the rows a correction marks."""
    if latest is None:
        return []
    lines = []
    diastolic = latest.of(DIASTOLIC)
    for row in latest.observations:
        vital = BY_CODE[row.code]
        if vital is DIASTOLIC:
            continue
        rows = [row]
        text = vital.text(row.value, system)
        if vital is SYSTOLIC and diastolic is not None:
            rows = [row, diastolic]
            text = f"{plain(row.value)}/{plain(diastolic.value)} {_unit(SYSTOLIC, system)}"
        flags = []
        for one in rows:
            flag = Flag(one.interpretation) if one.interpretation else None
            if flag not in (None, Flag.NORMAL) and flag not in flags:
                flags.append(flag)
        normal = all(one.interpretation == Flag.NORMAL for one in rows)
        label = "Blood pressure" if vital is SYSTOLIC else vital.label
        lines.append({"label": label, "text": text, "flags": flags, "normal": normal, "row": row})
    return lines


def form_fields(
    patient: patients.Patient,
    system: UnitSystem,
    errors: Mapping[str, str] | None = None,
    typed: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The form's fields (head circumference for the youngest only), their units in the
    organization's system, what was typed and the message at each refused field."""
    young = years_old(patient.birth_date, utcnow().date()) < HEAD_CIRCUMFERENCE_UNTIL_YEARS
    return {
        "fields": [v for v in ENTERED if v is not HEAD or young],
        "unit": {v.key: _unit(v, system) for v in [*ENTERED, BMI]},
        "errors": errors or {},
        "typed": typed or {},
    }


async def panel(
    desk: Desk,
    *,
    errors: Mapping[str, str] | None = None,
    typed: Mapping[str, str] | None = None,
    saved: bool = False,
    newest: vitals.VitalsSet | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """What the section shows: the latest set (flag words; ``newest`` when the caller
    has just recorded it), and the form's fields with their units, what was typed and
    the message at each refused field."""
    system = await vitals.unit_system(desk.session)
    latest = newest or await vitals.latest_set(
        desk.session, actor=desk.actor, patient_id=desk.patient.id
    )
    return {
        "vitals": {
            **form_fields(desk.patient, system, errors, typed),
            "system": system,
            "latest": latest,
            "lines": shown_rows(latest, system),
            "saved": saved,
            "message": message,
            "trends": trends_url(desk.patient.id),
            "can_write": desk.writable and desk.actor.can(Permission.VITALS_WRITE),
            "can_correct": desk.actor.can(Permission.VITALS_WRITE),
        }
    }


@section("vitals", "Vitals", template=SECTION, order=20, permission=Permission.CLINICAL_READ)
async def vitals_section(desk: Desk) -> dict[str, Any]:
    return await panel(desk)


async def _answer(desk: Desk, **shown: Any) -> HTMLResponse:
    context = {
        "encounter": desk.encounter,
        "writable": desk.writable,
        **(await panel(desk, **shown)),
    }
    # The banner shows the latest weight: after a change here it is swapped in too.
    shown_vitals = context["vitals"]
    shown_vitals["banner"] = await vitals.banner_facts(
        desk.session,
        actor=desk.actor,
        patient_id=desk.patient.id,
        latest=shown_vitals["latest"],
        system=shown_vitals["system"],
    )
    # 200 even when refused: htmx swaps only successful answers, and the refusal is
    # shown at the fields (as the reason section does).
    return render(desk.request, SECTION, context, block="section")


@router.post("/encounters/{encounter_id}/vitals", response_class=HTMLResponse)
async def record_vitals(
    encounter_id: uuid.UUID, request: Request, session: SessionDep, actor: VitalsWrite
) -> Response:
    """The section's form (htmx): saved, the section shows the new set with its flags and
    an empty form; refused, the form again with what was typed and a message at each
    refused field naming the valid range."""
    typed = form_text(await request.form(), FIELDS)
    try:
        async with all_or_nothing(session):
            data = parse_form(
                VitalsRecord,
                {k: v.replace(",", ".") for k, v in typed.items()},
                labels={v.key: v.label for v in ENTERED},
            )
            recorded = await vitals.record_vitals(
                session, actor=actor, data=data, encounter_id=encounter_id
            )
    except FormInvalid as refused:
        desk = await _desk(request, session, actor, encounter_id)
        errors = {k: _readable(v) for k, v in refused.fields.items()}
        return await _answer(desk, errors=errors, typed=typed, message=refused.detail)
    except ClinicError as refused:
        desk = await _desk(request, session, actor, encounter_id)
        return await _answer(desk, typed=typed, message=refused.detail)
    desk = await _desk(request, session, actor, encounter_id)
    # Recorded now, so the newest set (a set back-dated by the API is not, and the
    # section reads the latest one again).
    newest = recorded if data.effective_at is None else None
    return await _answer(desk, saved=True, newest=newest)


def _readable(message: str) -> str:
    """Pydantic's words for a non-number, as a person says it."""
    lowered = message.lower()
    if "decimal" in lowered or ("number" in lowered and "whole" not in lowered):
        return "Type a number, such as 72 or 36.8."
    return message


@router.post(
    "/encounters/{encounter_id}/vitals/{observation_id}/entered-in-error",
    response_class=HTMLResponse,
)
async def mark_entered_in_error(
    encounter_id: uuid.UUID,
    observation_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    actor: VitalsWrite,
    version: FormVersion,
) -> Response:
    form = await request.form()
    message = None
    try:
        async with all_or_nothing(session):
            data = parse_form(
                EnteredInError,
                {"reason": str(form.get("reason") or "").strip()},
                labels={"reason": "Reason"},
                hint="Say why it is wrong (at least 3 characters).",
            )
            await vitals.mark_entered_in_error(
                session,
                actor=actor,
                observation_id=observation_id,
                reason=data.reason or "",
                expected_version=version,
            )
    except ClinicError as refused:
        message = refused.detail
    desk = await _desk(request, session, actor, encounter_id)
    if message is None:
        return await _answer(desk, message="Marked entered in error; it stays on the record.")
    return await _answer(desk, message=message)


# --- trends -----------------------------------------------------------------------------


# Centiles for the latest points only: each takes milliseconds, a chart holds up to 200.
CENTILE_POINTS = 24


def _centiles(trend: vitals.Trend, patient: patients.Patient) -> list[str]:
    """Each point's growth centile ("31.4"), "" where none applies or for older points."""
    shown: list[str] = []
    first = len(trend.points) - CENTILE_POINTS
    for index, (when, value, _flag) in enumerate(trend.points):
        found = None
        if index >= first:
            found = growth.centile(
                trend.vital.key,
                value,
                sex_at_birth=patient.sex_at_birth,
                birth_date=patient.birth_date,
                on=when.date(),
            )
        shown.append(plain(found) if found is not None else "")
    return shown


def _chart(
    trend: vitals.Trend, system: UnitSystem, zone: ZoneInfo, patient: patients.Patient
) -> dict[str, Any]:
    vital = trend.vital
    child = growth.applies(vital.key, patient.sex_at_birth, patient.birth_date, utcnow().date())
    return {
        "centiles": _centiles(trend, patient) if child else [],
        "label": vital.label,
        "unit": _unit(vital, system),
        "labels": [
            when.astimezone(zone).strftime("%Y-%m-%d %H:%M") for when, _v, _f in trend.points
        ],
        "values": [float(vital.shown(value, system)) for _w, value, _f in trend.points],
        "flags": [flag or "" for _w, _v, flag in trend.points],
    }


def _figures(
    series: list[vitals.Trend], system: UnitSystem, chart: dict[str, Any]
) -> list[dict[str, Any]]:
    """The chart's figures as table rows, newest first: when, the value(s) as text, the
    flags (words), the centile."""
    rows = []
    for index in range(len(chart["labels"]) - 1, -1, -1):
        values, flags = [], []
        for trend in series:
            if index >= len(trend.points):
                continue
            _when, value, flag = trend.points[index]
            values.append(plain(trend.vital.shown(value, system)))
            if flag in (Flag.LOW, Flag.HIGH) and Flag(flag) not in flags:
                flags.append(Flag(flag))
        centiles = chart["centiles"]
        rows.append(
            {
                "when": chart["labels"][index],
                "value": "/".join(values),
                "flags": flags,
                "centile": centiles[index] if centiles else "",
            }
        )
    return rows


@router.get("/patients/{patient_id}/vitals", response_class=HTMLResponse)
async def trends_page(
    patient_id: uuid.UUID, request: Request, session: SessionDep, actor: ClinicalRead
) -> HTMLResponse:
    """One chart per kind of vital sign over time (the blood pressure's two numbers in
    one), with the same figures in a table for readers without the chart; for nurses and
    doctors, a form to record a set outside a consultation (triage in the waiting room)."""
    return await _trends(request, session, actor, patient_id)


@router.post("/patients/{patient_id}/vitals", response_class=HTMLResponse)
async def record_outside_consultation(
    patient_id: uuid.UUID, request: Request, session: SessionDep, actor: VitalsWrite
) -> Response:
    typed = form_text(await request.form(), FIELDS)
    try:
        async with all_or_nothing(session):
            data = parse_form(
                VitalsRecord,
                {k: v.replace(",", ".") for k, v in typed.items()},
                labels={v.key: v.label for v in ENTERED},
            )
            await vitals.record_vitals(session, actor=actor, data=data, patient_id=patient_id)
    except ClinicError as refused:
        errors = refused.fields if isinstance(refused, FormInvalid) else {}
        return await _trends(
            request,
            session,
            actor,
            patient_id,
            form={"errors": {k: _readable(v) for k, v in errors.items()}, "typed": typed},
            message=refused.detail,
            status_code=refused.status_code,
        )
    response = redirect(trends_url(patient_id))
    flash(request, response, "Vitals saved.")
    return response


async def _trends(
    request: Request,
    session: AsyncSession,
    actor: Actor,
    patient_id: uuid.UUID,
    *,
    form: Mapping[str, Any] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    patient = await patients.get_patient(session, patient_id, actor=actor)
    found = await vitals.trends(session, actor=actor, patient_id=patient.id)
    system = await vitals.unit_system(session)
    zone = ZoneInfo((await identity.get_organization(session)).time_zone or "UTC")
    charts = []
    pressure = [t for t in found if t.vital in (SYSTOLIC, DIASTOLIC)]
    for trend in found:
        if trend.vital is DIASTOLIC:
            continue
        chart = _chart(trend, system, zone, patient)
        if trend.vital is SYSTOLIC:
            chart["label"] = "Blood pressure"
            chart["series"] = [_chart(t, system, zone, patient) for t in pressure]
        series = list(pressure) if trend.vital is SYSTOLIC else [trend]
        figures = _figures(series, system, chart)
        charts.append({"key": trend.vital.key, "chart": chart, "figures": figures})
    return render(
        request,
        "clinical/vitals_trends.html",
        {
            "patient": patient,
            "charts": charts,
            "system": system,
            "flags": Flag,
            "growth_reference": growth.REFERENCE_NAME,
            "form": form_fields(patient, system, **(form or {})),
            "message": message,
            "can_write": actor.can(Permission.VITALS_WRITE),
        },
        status_code=status_code,
    )


# --- settings ---------------------------------------------------------------------------


@router.get(SETTINGS_PAGE, response_class=HTMLResponse)
async def settings_page(
    request: Request, actor: AdminSettings, session: SessionDep
) -> HTMLResponse:
    found = await vitals.get_settings(session)
    return render(
        request,
        "clinical/settings_vitals.html",
        {"settings": found, "failed": None, "systems": UnitSystem},
    )


@router.post(SETTINGS_PAGE, response_class=HTMLResponse)
async def save_settings(
    request: Request, actor: AdminSettings, session: SessionDep, version: FormVersion
) -> Response:
    values = form_text(await request.form(), ("unit_system",))
    try:
        data = parse_form(ClinicalSettingsWrite, values, labels={"unit_system": "Units"})
        async with all_or_nothing(session):
            await vitals.update_settings(session, actor=actor, data=data, expected_version=version)
    except ClinicError as error:
        return render(
            request,
            "clinical/settings_vitals.html",
            {
                "settings": await vitals.get_settings(session),
                "failed": Refused.of("units", error, values),
                "systems": UnitSystem,
            },
            status_code=error.status_code,
        )
    response = redirect(SETTINGS_PAGE)
    flash(request, response, "Units saved.")
    return response
