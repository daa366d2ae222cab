"""The whole schema: imports every domain's models so ``metadata`` describes all tables.

Alembic's autogenerate and the model/migration drift test read ``metadata`` from here.
Each domain adds its ``models`` module below as it arrives.
"""

from __future__ import annotations

from clinicdesk.audit import models as audit_models  # noqa: F401
from clinicdesk.billing import claim_models  # noqa: F401
from clinicdesk.billing import day_close_models as billing_day_close_models  # noqa: F401
from clinicdesk.billing import models as billing_models  # noqa: F401
from clinicdesk.billing import payment_models as billing_payment_models  # noqa: F401
from clinicdesk.clinical import models as clinical_models  # noqa: F401
from clinicdesk.core import counters, idempotency  # noqa: F401
from clinicdesk.core.jobs import models as job_models  # noqa: F401
from clinicdesk.core.models import Base
from clinicdesk.identity import models as identity_models  # noqa: F401
from clinicdesk.notifications import alert_models as notification_alert_models  # noqa: F401
from clinicdesk.notifications import message_models as notification_models  # noqa: F401
from clinicdesk.notifications import risk_records as notification_risk_records  # noqa: F401
from clinicdesk.patients import models as patient_models  # noqa: F401
from clinicdesk.queue import models as queue_models  # noqa: F401
from clinicdesk.scheduling import models as scheduling_models  # noqa: F401

metadata = Base.metadata

__all__ = ["metadata"]
