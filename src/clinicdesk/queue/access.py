"""What queue routes need: every staff role that sees the schedule sees the queue; the
front desk, nurses and doctors move it; the front desk and administrators set up the
waiting-room displays."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from clinicdesk.core.access import require
from clinicdesk.core.actor import Actor
from clinicdesk.core.permissions import Permission

QueueRead = Annotated[Actor, Depends(require(Permission.SCHEDULING_READ))]
QueueWrite = Annotated[Actor, Depends(require(Permission.QUEUE_WRITE))]
QueueDisplays = Annotated[Actor, Depends(require(Permission.QUEUE_DISPLAYS))]
