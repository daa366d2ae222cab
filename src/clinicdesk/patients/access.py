"""What patient routes need: their permissions, and the document storage settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from clinicdesk.core.access import require
from clinicdesk.core.actor import Actor
from clinicdesk.core.permissions import Permission
from clinicdesk.core.storage import DocumentStorage

PatientsRead = Annotated[Actor, Depends(require(Permission.PATIENTS_READ))]
PatientsWrite = Annotated[Actor, Depends(require(Permission.PATIENTS_WRITE))]
ClinicalRead = Annotated[Actor, Depends(require(Permission.CLINICAL_READ))]
ClinicalWrite = Annotated[Actor, Depends(require(Permission.CLINICAL_WRITE))]


def actor_needing(permission: Permission) -> Any:
    """The ``actor`` annotation of a route built per chart list, whose permission is
    known only when the route is made (allergies: ``ALLERGIES_WRITE``)."""
    return Annotated[Actor, Depends(require(permission))]


@dataclass(frozen=True, slots=True)
class PatientsConfig:
    storage: DocumentStorage
    upload_max_bytes: int
    break_glass_minutes: int = 60


def patients_config(request: Request) -> PatientsConfig:
    config: PatientsConfig = request.app.state.patients
    return config


PatientsConfigDep = Annotated[PatientsConfig, Depends(patients_config)]
