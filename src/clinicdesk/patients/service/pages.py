"""Read models of the patient pages: everything one page shows, gathered by one call, with
the rules that decide what the reader sees applied here rather than in the route or the
template (clinical lists only for clinical staff; the document categories a role may see
and file)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.core.actor import Actor
from clinicdesk.identity.public import User
from clinicdesk.patients.errors import PatientNotFound
from clinicdesk.patients.models import Allergy, ChartRecord, Document, Patient, Payer
from clinicdesk.patients.policies import readable_categories, sees_clinical
from clinicdesk.patients.schemas import PolicyRead
from clinicdesk.patients.service import activity, chart, documents, insurance, records
from clinicdesk.patients.vocabulary import DocumentCategory


@dataclass(slots=True)
class ChartPage:
    patient: Patient
    merged_away: bool
    """The record asked for was merged into ``patient``: the page sends the reader there
    (nothing else is loaded, so nothing else is recorded as read)."""
    clinical: bool = False  # the reader sees the clinical lists and history
    allergies: Sequence[Allergy] = ()  # the active ones, for the banner
    # Kind of list -> its entries (clinical).
    lists: dict[str, Sequence[ChartRecord]] = field(default_factory=dict)
    history: activity.ActivityPage | None = None  # who changed what (clinical)
    documents: Sequence[Document] = ()
    categories: list[DocumentCategory] = field(default_factory=list)  # the reader may see
    merged_from: list[str | None] = field(default_factory=list)  # MRNs merged into this record
    portal: list[User] = field(default_factory=list)  # the patient's portal accounts
    policies: list[PolicyRead] = field(default_factory=list)  # open first, primary first
    may_change_policies: bool = False
    payers: Sequence[Payer] = ()  # the active ones, for the policy forms (if may change)


async def chart_page(session: AsyncSession, *, actor: Actor, patient_id: uuid.UUID) -> ChartPage:
    """The chart as ``actor`` may see it (the read is audited as a chart view)."""
    patient = await records.read_patient(session, actor=actor, patient_id=patient_id, view="chart")
    if patient.id != patient_id:
        return ChartPage(patient=patient, merged_away=True)
    clinical = sees_clinical(actor)
    allowed = readable_categories(actor)
    page = ChartPage(patient=patient, merged_away=False, clinical=clinical)
    if clinical:
        for kind in chart.CHART_LISTS:
            page.lists[kind] = await chart.list_entries(
                session, actor=actor, patient_id=patient.id, kind=kind
            )
        page.history = await activity.chart_history(session, actor=actor, patient_id=patient.id)
    page.allergies = chart.banner_allergies(
        await chart.active_allergies(session, patient_id=patient.id)
    )
    page.documents = await documents.list_documents(
        session, actor=actor, patient_id=patient.id, allowed_categories=allowed
    )
    page.categories = [c for c in DocumentCategory if allowed is None or c.value in allowed]
    page.merged_from = [
        item.details.get("merged_mrn")
        for item in (page.history.items if page.history else [])
        if item.action == "patient.merged" and item.details
    ]
    page.portal = await activity.portal_accounts(session, patient_id=patient.id)
    page.policies = await insurance.policies_of(session, patient_id=patient.id)
    page.may_change_policies = insurance.may_change_policies(actor)
    if page.may_change_policies:
        page.payers = await insurance.list_payers(session)
    return page


@dataclass(slots=True)
class PortalPage:
    """A patient's own record as the portal shows it (the page and ``/portal/record``)."""

    patient: Patient
    allergies: Sequence[Allergy]  # the active ones
    medications: Sequence[ChartRecord]
    documents: Sequence[Document]  # those shared with the patient
    viewers: activity.ActivityPage | None  # who looked at the record (the page only)


async def portal_page(session: AsyncSession, *, actor: Actor, viewers: bool) -> PortalPage:
    """The signed-in patient's own record; never another's (the patient comes from the
    actor, not from the request)."""
    if actor.patient_id is None:
        raise PatientNotFound("This account is not linked to a patient record.")
    patient = await records.read_patient(
        session, actor=actor, patient_id=actor.patient_id, view="portal"
    )
    return PortalPage(
        patient=patient,
        allergies=chart.banner_allergies(
            await chart.active_allergies(session, patient_id=patient.id)
        ),
        medications=await chart.list_entries(
            session, actor=actor, patient_id=patient.id, kind="medications"
        ),
        documents=await documents.list_documents(
            session, actor=actor, patient_id=patient.id, allowed_categories=None
        ),
        viewers=await activity.viewers(session, actor=actor, patient_id=patient.id)
        if viewers
        else None,
    )
