"""Migration 0019 (``insurance_policies``) on both databases, with data: each patient's
single payer and member number become a primary policy under one payer row per distinct
name, the old columns go, and the downgrade puts them back."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from clinicdesk.core import migrations
from clinicdesk.core.crypto import field_keyring
from clinicdesk.core.db import create_database
from clinicdesk.core.rls import POLICY

BEFORE = "0018_prescription_sheets"
NOW = datetime(2026, 12, 1, tzinfo=UTC)

organizations = sa.table(
    "organizations",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("time_zone", sa.String()),
    sa.column("locale", sa.String()),
    sa.column("currency", sa.String()),
    sa.column("mfa_required_for_admins", sa.Boolean()),
    sa.column("mfa_required_for_staff", sa.Boolean()),
    sa.column("is_active", sa.Boolean()),
    sa.column("version", sa.Integer()),
)
patients = sa.table(
    "patients",
    sa.column("id", sa.Uuid()),
    sa.column("organization_id", sa.Uuid()),
    sa.column("mrn", sa.String()),
    sa.column("given_name", sa.String()),
    sa.column("family_name", sa.String()),
    sa.column("sex_at_birth", sa.String()),
    sa.column("birth_date", sa.Date()),
    sa.column("no_known_allergies", sa.Boolean()),
    sa.column("search_name", sa.String()),
    sa.column("version", sa.Integer()),
    sa.column("insurance_payer", sa.String()),
    sa.column("insurance_member_number", sa.Text()),
    sa.column("insurance_member_hash", sa.String()),
)


def _to(revision: str, *, down: bool = False):  # type: ignore[no-untyped-def]
    def run(connection: Connection) -> None:
        config = migrations.alembic_config()
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)

    return run


def _columns(connection: Connection, table: str) -> set[str]:
    return {c["name"] for c in inspect(connection).get_columns(table)}


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_single_payers_become_primary_policies_and_come_back(
    fresh_database_url: str,
) -> None:
    keyring = field_keyring()
    org_a, org_b = uuid.uuid4(), uuid.uuid4()
    ids = [uuid.uuid4() for _ in range(5)]
    # (organization, payer name, member number) of each patient: two spellings of one
    # payer, the same name in another organization, a member number with no payer, none.
    people = [
        (org_a, "Aetna", "W123456789"),
        (org_a, "  aetna ", "W987654321"),
        (org_a, None, "X111"),
        (org_a, None, None),
        (org_b, "Aetna", "B555"),
    ]
    db = create_database(fresh_database_url, pool_size=1)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(_to(BEFORE))
            for org, name in ((org_a, "A"), (org_b, "B")):
                await connection.execute(
                    sa.insert(organizations).values(
                        id=org,
                        name=name,
                        time_zone="UTC",
                        locale="en-US",
                        currency="USD",
                        mfa_required_for_admins=False,
                        mfa_required_for_staff=False,
                        is_active=True,
                        version=1,
                    )
                )
            for index, (patient_id, (org, payer, member)) in enumerate(
                zip(ids, people, strict=True)
            ):
                await connection.execute(
                    sa.insert(patients).values(
                        id=patient_id,
                        organization_id=org,
                        mrn=f"M{index}",
                        given_name="Pat",
                        family_name=f"Person{index}",
                        sex_at_birth="unknown",
                        birth_date=date(1980, 1, 1),
                        no_known_allergies=False,
                        search_name="pat person",
                        version=1,
                        insurance_payer=payer,
                        insurance_member_number=keyring.encrypt(member) if member else None,
                        insurance_member_hash=keyring.lookup_hash(member) if member else None,
                    )
                )

            await connection.run_sync(_to("0019_insurance_policies"))
            assert not {"insurance_payer", "insurance_member_number"} & await connection.run_sync(
                _columns, "patients"
            )
            payers = (
                await connection.execute(text("SELECT id, organization_id, name FROM payers"))
            ).all()
            # One spelling of each (the first met), trimmed.
            names = sorted((str(uuid.UUID(str(p.organization_id))), p.name.lower()) for p in payers)
            assert names == sorted(
                [(str(org_a), "aetna"), (str(org_a), "unspecified payer"), (str(org_b), "aetna")]
            )
            rows = (
                await connection.execute(
                    text(
                        "SELECT p.patient_id, y.name, p.member_number, p.member_number_hash,"
                        " p.priority, p.relationship, p.ended_at, p.valid_from"
                        " FROM insurance_policies p JOIN payers y ON y.id = p.payer_id"
                    )
                )
            ).all()
            by_patient = {uuid.UUID(str(r.patient_id)): r for r in rows}
            assert set(by_patient) == set(ids[:3] + ids[4:])  # the uninsured one has none
            for patient_id, (_org, _payer, member) in zip(ids, people, strict=True):
                if member is None:
                    continue
                row = by_patient[patient_id]
                assert row.priority == "primary" and row.relationship == "self"
                assert row.ended_at is None and row.valid_from is None
                assert member not in row.member_number  # still encrypted at rest
                assert keyring.decrypt(row.member_number) == member
                assert row.member_number_hash == keyring.lookup_hash(member)
            assert by_patient[ids[1]].name == by_patient[ids[0]].name  # "  aetna " joined it
            assert by_patient[ids[2]].name == "Unspecified payer"
            if connection.dialect.name == "postgresql":
                policed = await connection.scalar(
                    text(
                        "SELECT count(*) FROM pg_policies WHERE policyname = :p"
                        " AND tablename IN ('payers', 'insurance_policies')"
                    ),
                    {"p": POLICY},
                )
                assert policed == 2

            await connection.run_sync(_to(BEFORE, down=True))
            assert not {"payers", "insurance_policies"} & await connection.run_sync(_tables)
            back = {
                uuid.UUID(str(r.id)): r
                for r in (
                    await connection.execute(
                        sa.select(
                            patients.c.id,
                            patients.c.insurance_payer,
                            patients.c.insurance_member_number,
                            patients.c.insurance_member_hash,
                        )
                    )
                ).all()
            }
            assert back[ids[0]].insurance_payer in ("Aetna", "aetna")
            assert keyring.decrypt(back[ids[0]].insurance_member_number) == "W123456789"
            assert back[ids[0]].insurance_member_hash == keyring.lookup_hash("W123456789")
            assert back[ids[2]].insurance_payer is None  # "Unspecified payer" was made up
            assert keyring.decrypt(back[ids[2]].insurance_member_number) == "X111"
            assert back[ids[3]].insurance_payer is None
            assert back[ids[3]].insurance_member_number is None
        assert await migrations.current_revisions(db) == (BEFORE,)
        await migrations.upgrade(db)
        assert await migrations.current_revisions(db) == (migrations.HEAD_REVISION,)
    finally:
        await db.dispose()
