"""What billing routes need (``identity/permissions.py`` says who holds them: billing
and reception read and write; the admin reads; billing and the admin refund, void and
credit)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from clinicdesk.core.access import require
from clinicdesk.core.actor import Actor
from clinicdesk.core.permissions import Permission

BillingRead = Annotated[Actor, Depends(require(Permission.BILLING_READ))]
BillingWrite = Annotated[Actor, Depends(require(Permission.BILLING_WRITE))]
BillingRefund = Annotated[Actor, Depends(require(Permission.BILLING_REFUND))]

# Reopening a closed day undoes the desk's count: the owner's act, not a clerk's. Only a
# user who both gives money back (``billing:refund``) and runs the clinic's settings
# (``admin:settings``: the admin role) may; the route declares the rarer of the two and
# ``day_close.can_reopen_day`` states both.
DayReopen = Annotated[Actor, Depends(require(Permission.ADMIN_SETTINGS))]
