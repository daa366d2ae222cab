"""Errors of the patients domain, each with the status it answers with."""

from __future__ import annotations

from clinicdesk.core.errors import ClinicError, Conflict, NotFound


class PatientNotFound(NotFound):
    title = "Patient not found"
    code = "patient-not-found"


class ChartEntryNotFound(NotFound):
    title = "Chart entry not found"
    code = "chart-entry-not-found"


class DocumentNotFound(NotFound):
    title = "Document not found"
    code = "document-not-found"


class RecordMerged(Conflict):
    """A write to a record that was merged into another: the caller must use the kept one."""

    title = "This record was merged"
    code = "patient-merged"


class MergeRefused(Conflict):
    title = "These records cannot be merged"
    code = "merge-refused"


class UnsupportedDocumentType(ClinicError):
    status_code = 415
    title = "This kind of file is not accepted"
    code = "unsupported-document-type"


class PortalInviteRefused(Conflict):
    title = "Cannot invite to the portal"
    code = "portal-invite-refused"


class RestrictedRecord(ClinicError):
    """A restricted record asked for by someone outside its care team. A clinician may
    break the glass (``emergency_access`` says whether this caller may)."""

    status_code = 403
    title = "This record is restricted"
    code = "restricted-record"


class BreakGlassRefused(ClinicError):
    status_code = 403
    title = "Emergency access is not available to you"
    code = "break-glass-refused"


class DuplicateAllergy(Conflict):
    """The substance is already on the patient's active allergy list (compared without
    regard to case or spacing): a second entry would show twice and could disagree."""

    title = "This allergy is already recorded"
    code = "allergy-duplicate"


class PayerNotFound(NotFound):
    title = "Payer not found"
    code = "payer-not-found"


class DuplicatePayer(Conflict):
    title = "This payer is already on the list"
    code = "duplicate-payer"


class PolicyNotFound(NotFound):
    title = "Insurance policy not found"
    code = "insurance-policy-not-found"


class PolicyOverlap(Conflict):
    title = "Another policy of this priority covers these dates"
    code = "insurance-policy-overlap"


class PolicyEnded(Conflict):
    title = "This policy has ended"
    code = "insurance-policy-ended"
