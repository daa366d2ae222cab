"""The stored no-show models: one row per training of an organization's model.

The newest row (by ``trained_at``) is the model in use; older ones are kept a while to
show how the model's AUC moves, and pruned by the training job. ``model`` is
``risk_model.FittedModel.to_json()``; ``n_samples``, ``base_rate`` and ``auc`` repeat
its headline figures as columns for a page or a report to read without parsing it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.core.models import Base, Entity
from clinicdesk.core.tenancy import TenantScoped


class NoShowModel(Base, Entity, TenantScoped):
    """One organization's fitted no-show model (or its prior, when history was short)."""

    __tablename__ = "no_show_models"

    trained_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))  # "logistic" | "prior"
    model: Mapped[str] = mapped_column(Text)
    n_samples: Mapped[int] = mapped_column(Integer)
    base_rate: Mapped[float] = mapped_column(Float)
    auc: Mapped[float | None] = mapped_column(Float, default=None)

    __table_args__ = (Index("ix_no_show_models_trained", "organization_id", "trained_at"),)
