"""What other domains may use of the audit trail: recording entries in their own
transaction, the outcome vocabulary, and the trail of a patient.

Every other domain imports ``from clinicdesk.audit import public as audit``; the models and
the service module are audit's own (an import-linter contract keeps it so).
"""

from clinicdesk.audit.chaining import running_chainer
from clinicdesk.audit.models import Outcome
from clinicdesk.audit.report import export_csv, list_events, patient_trail, resource_trail
from clinicdesk.audit.schemas import AuditPage, AuditQuery
from clinicdesk.audit.service import (
    VerifyReport,
    changes,
    record,
    record_change,
    record_if_rolled_back,
    record_list_read,
    record_moved_by_merge,
    record_read,
    snapshot,
    start_chain,
    verify_chains,
)
from clinicdesk.audit.subjects import Subject, as_uuid, name_subjects, register_namer

__all__ = [
    "AuditPage",
    "AuditQuery",
    "Outcome",
    "Subject",
    "VerifyReport",
    "as_uuid",
    "changes",
    "export_csv",
    "list_events",
    "name_subjects",
    "patient_trail",
    "record",
    "record_change",
    "record_if_rolled_back",
    "record_list_read",
    "record_moved_by_merge",
    "record_read",
    "register_namer",
    "resource_trail",
    "running_chainer",
    "snapshot",
    "start_chain",
    "verify_chains",
]

# Spreadsheet-safe CSV cells, for other domains' exports (billing's claims).
from clinicdesk.audit.report import csv_safe

__all__ += ["csv_safe"]
