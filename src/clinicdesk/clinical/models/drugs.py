"""The drug vocabulary: reference data shared by every organization (not tenant-scoped),
loaded from the ``drug-named-entity-recognition`` package after the migrations
(``clinical/reference.py``; DrugBank open vocabulary names, synonyms and brand names, MeSH
tree numbers; MIT licence).

Three tables, each with what one question needs:

* ``drugs``: one substance or class (its canonical name, DrugBank id, the MeSH
  pharmacological action the package gives, its MeSH tree numbers);
* ``drug_names``: every name a prescriber may type (canonical, synonym, brand), lower-cased
  in ``key`` for the search as you type;
* ``drug_tree_numbers``: each MeSH tree number and the vocabulary entry that holds it, so
  a drug's classes are found by the prefixes of its own tree numbers (amoxicillin
  D03.633.100.300.750.750.050.050 sits under penicillins D03.633.100.300.750).
"""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clinicdesk.core.models import Base


class Drug(Base):
    __tablename__ = "drugs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(300))
    # The canonical name lower-cased: the substance key the safety checks compare.
    key: Mapped[str] = mapped_column(String(300), unique=True)
    drugbank_id: Mapped[str | None] = mapped_column(String(16), default=None)
    mesh_action_id: Mapped[str | None] = mapped_column(String(16), default=None)
    # Space-separated MeSH tree numbers ("" for a name without MeSH placement).
    tree_numbers: Mapped[str] = mapped_column(Text, default="")


class DrugName(Base):
    __tablename__ = "drug_names"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    drug_id: Mapped[int] = mapped_column(ForeignKey("drugs.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(300))
    is_brand: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        # The prefix search: a range scan on SQLite, LIKE 'q%' on PostgreSQL (pattern ops:
        # the database's collation is not byte order).
        Index("ix_drug_names_key", "key", postgresql_ops={"key": "varchar_pattern_ops"}),
    )


class DrugTreeNumber(Base):
    __tablename__ = "drug_tree_numbers"

    tree_number: Mapped[str] = mapped_column(String(80), primary_key=True)
    drug_id: Mapped[int] = mapped_column(ForeignKey("drugs.id", ondelete="CASCADE"))
