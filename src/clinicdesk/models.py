"""The whole schema: imports every domain's models so ``metadata`` describes all tables.

Alembic's autogenerate and the model/migration drift test read ``metadata`` from here.
Each domain adds its ``models`` module below as it arrives.
"""

from __future__ import annotations

from clinicdesk.core.models import Base

metadata = Base.metadata

__all__ = ["metadata"]
