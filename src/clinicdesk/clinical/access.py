"""What clinical routes need: clinical staff read; doctors write notes, diagnose and
prescribe; nurses and doctors record vitals (``identity/permissions.py`` says who)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from clinicdesk.core.access import require
from clinicdesk.core.actor import Actor
from clinicdesk.core.permissions import Permission

ClinicalRead = Annotated[Actor, Depends(require(Permission.CLINICAL_READ))]
ClinicalWrite = Annotated[Actor, Depends(require(Permission.CLINICAL_WRITE))]
VitalsWrite = Annotated[Actor, Depends(require(Permission.VITALS_WRITE))]
Prescribe = Annotated[Actor, Depends(require(Permission.PRESCRIBE))]
