"""What the notification routes need (``identity/permissions.py`` says who holds them:
the front desk and the admin read the messages log; the admin changes the settings and
templates, sends tests and tests the connections)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from clinicdesk.core.access import require
from clinicdesk.core.actor import Actor
from clinicdesk.core.permissions import Permission

NotificationsRead = Annotated[Actor, Depends(require(Permission.NOTIFICATIONS_READ))]
NotificationsManage = Annotated[Actor, Depends(require(Permission.NOTIFICATIONS_MANAGE))]
