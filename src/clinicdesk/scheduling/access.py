"""What scheduling routes need."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from clinicdesk.core.access import require
from clinicdesk.core.actor import Actor
from clinicdesk.core.permissions import Permission

SchedulingRead = Annotated[Actor, Depends(require(Permission.SCHEDULING_READ))]
SchedulingWrite = Annotated[Actor, Depends(require(Permission.SCHEDULING_WRITE))]
