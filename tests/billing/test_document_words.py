"""The billing documents in the organization's language: the word tables (complete, the
same placeholders everywhere), the language a locale picks, dates as each language writes
them, and the PDFs (invoice, credit note, receipt, statement) and the invoice's e-mail
read back in Spanish, German (``de-AT`` falls back to ``de``) and English for a locale
with no words, on SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import string
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from clinicdesk.app import job_registry
from clinicdesk.billing.kernel.document_words import (
    AGE_KEYS,
    LANGUAGES,
    WORDS,
    date_locale,
    document_date,
    document_moment,
    language_of,
    method_words,
)
from clinicdesk.billing.kernel.formatting import format_money
from clinicdesk.billing.service.documents import (
    Letterhead,
    ReceiptAllocation,
    ReceiptView,
    receipt_html,
)
from clinicdesk.billing.vocabulary import PaymentMethod
from clinicdesk.core.mail import SmtpMailSender
from clinicdesk.core.pdf import html_to_pdf
from clinicdesk.identity.models import Organization
from clinicdesk.patients.models import Patient
from tests.billing.conftest import draft, issue
from tests.billing.test_documents import MINUS, credit, pdf_text
from tests.clinical.conftest import People
from tests.core.test_mail import Inbox, SmtpServer, start_smtp_server
from tests.support.jobs import run_jobs_in
from tests.support.queue import QueueClinic


def flat(text: str) -> str:
    """The words as read back, whatever the lines they were wrapped on."""
    return " ".join(text.split())


# --- the tables ---------------------------------------------------------------------------


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_language_has_every_word_with_the_same_placeholders() -> None:
    assert set(LANGUAGES) >= {"en", "es", "fr", "de", "pt"}
    english = WORDS["en"]
    for language in LANGUAGES:
        words = WORDS[language]
        assert set(words) == set(english), language
        for key, text in words.items():
            assert text.strip(), (language, key)
            assert _placeholders(text) == _placeholders(english[key]), (language, key)


def test_the_words_are_safe_where_the_templates_put_them() -> None:
    # Templates read ``w.key``: a key named like a mapping's method would print the method.
    assert not set(WORDS["en"]) & set(dir(dict))
    for language in LANGUAGES:
        # The page footer is a CSS string, which HTML escaping does not protect.
        for key in ("page", "page_of"):
            assert not set(WORDS[language][key]) & set("\"'\\<>&{}"), (language, key)
    assert all(key in WORDS["en"] for key in AGE_KEYS)
    for method in PaymentMethod:  # every method has its word
        assert method_words(method.value, WORDS["de"]) != method.value


@pytest.mark.parametrize(
    ("locale", "language"),
    [
        ("es", "es"),
        ("es-MX", "es"),
        ("de-AT", "de"),
        ("fr_CA", "fr"),
        ("pt-BR", "pt"),
        ("en-GB", "en"),
        ("it", "en"),  # a real locale with no words: English
        ("zz-QQ", "en"),  # not a locale at all
        ("not a locale", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_the_locale_picks_the_language_of_the_words(locale: str | None, language: str) -> None:
    assert language_of(locale) == language


@pytest.mark.parametrize(
    ("locale", "shown"),
    [
        ("en", "Dec 5, 2026"),
        ("es", "5 dic 2026"),
        ("de-AT", "05.12.2026"),
        ("fr", "5 déc. 2026"),
        ("pt", "5 de dez. de 2026"),
        ("it", "Dec 5, 2026"),  # the words are English: so are the months
        ("nonsense", "Dec 5, 2026"),
    ],
)
def test_dates_are_written_as_the_documents_language_writes_them(locale: str, shown: str) -> None:
    written = document_date(date(2026, 12, 5), locale)
    assert written == shown.replace(" ", "\xa0")  # a date never wraps across lines
    assert document_date(None, locale) == "—"


def test_a_moment_is_shown_in_the_clinics_zone_and_language() -> None:
    paid = datetime(2026, 12, 5, 15, 30, tzinfo=UTC)

    def moment(zone: str, locale: str) -> str:
        return document_moment(paid, zone, locale).replace("\xa0", " ").replace("\u202f", " ")

    assert moment("Europe/Vienna", "de-AT") == "05.12.2026, 16:30"
    assert moment("America/New_York", "en") == "Dec 5, 2026, 10:30 AM"
    assert moment("No/Such_Zone", "es") == "5 dic 2026, 15:30"  # UTC
    assert str(date_locale("de-AT")) == "de_AT"


# --- a receipt, rendered without a database ------------------------------------------------


def _head(locale: str, currency: str = "EUR") -> Letterhead:
    return Letterhead(
        clinic="Clínica Puerto",
        place=None,
        address=None,
        phone=None,
        currency=currency,
        locale=locale,
        date_format="MM/DD/YYYY",
        time_zone="Europe/Madrid",
    )


def _receipt(method: str) -> ReceiptView:
    return ReceiptView(
        reference="R-20261205-3F2A9C1B",
        received_at=datetime(2026, 12, 5, 9, 15, tzinfo=UTC),
        patient_name="Ana López",
        patient_mrn="MRN-7",
        method=method,
        amount=15000,
        currency="EUR",
        allocations=(ReceiptAllocation("INV-2026-000007", 12050),),
        credit_left=2950,
        balance_after=-2950,
        balance_on=date(2026, 12, 7),
    )


async def test_a_receipt_in_spanish_and_in_german() -> None:
    spanish = flat(pdf_text(await html_to_pdf(receipt_html(_receipt("Tarjeta"), _head("es")))))
    for expected in (
        "RECIBO",
        "Recibido de",
        "5 dic 2026, 10:15",  # Madrid
        "Forma de pago Tarjeta",
        "Importe recibido 150,00 €",
        "INV-2026-000007 120,50 €",
        "Queda como saldo a favor 29,50 €",
        "Saldo al 7 dic 2026 (a su favor) 29,50 €",
        "N.º de historia MRN-7",
        "Conserve este recibo",
        "Página 1 de 1",
    ):
        assert expected in spanish, expected
    for english in ("Receipt", "Amount received", "Balance", "Page"):
        assert english not in spanish, english

    german = flat(pdf_text(await html_to_pdf(receipt_html(_receipt("Karte"), _head("de-AT")))))
    for expected in (
        "QUITTUNG",
        "Erhaltener Betrag € 150,00",  # money the Austrian way
        "Saldo am 07.12.2026 (zu Ihren Gunsten) € 29,50",
        "Seite 1 von 1",
    ):
        assert expected in german, expected


# --- the documents from the database ----------------------------------------------------------


async def _speak(session: AsyncSession, clinic: Organization, locale: str, currency: str) -> None:
    organization = await session.get_one(Organization, clinic.id)
    organization.locale, organization.currency = locale, currency
    await session.commit()


async def _invoice(desk: httpx.AsyncClient, qc: QueueClinic) -> dict[str, Any]:
    return await issue(
        desk,
        await draft(
            desk,
            qc.patient_ids[0],
            {
                "name": "Consulta general",
                "unit_price": 100000,
                "quantity": "1",
                "tax_rates": [{"name": "IVA", "rate": "21"}],
            },
            {"name": "Vendaje", "unit_price": 2345},
        ),
    )


async def test_an_invoice_and_its_credit_note_in_spanish(
    desk: httpx.AsyncClient,
    billing: httpx.AsyncClient,
    qc: QueueClinic,
    session: AsyncSession,
    clinic: Organization,
) -> None:
    await _speak(session, clinic, "es", "EUR")
    issued = await _invoice(desk, qc)
    # 1,000.00 + IVA 21% 210.00 + 23.45 = 1,233.45
    assert issued["total"] == 123345
    day = document_date(date.fromisoformat(issued["issue_date"]), "es").replace("\xa0", " ")
    text = flat(pdf_text((await desk.get(f"/api/v1/invoices/{issued['id']}/pdf")).content))
    for expected in (
        "FACTURA",  # the title, upper-cased by its style
        f"Número {issued['number']}",
        f"Fecha de emisión {day}",
        "Facturado a",
        "PRECIO UNITARIO",
        "Consulta general",  # data as typed
        "Subtotal 1.023,45 €",
        "IVA 21%",
        "Total 1.233,45 €",
        "Importe pagado 0,00 €",
        "Importe pendiente 1.233,45 €",
        "RESUMEN DE IMPUESTOS",
        "BASE IMPONIBLE",
        "Página 1 de 1",
    ):
        assert expected in text, expected
    assert format_money(123345, "EUR", "es").replace("\xa0", " ") == "1.233,45 €"
    for english in ("Invoice", "Amount due", "Subtotal $", "Page", "Billed to"):
        assert english not in text, english

    note = await credit(billing, issued, reason="Cortesía")
    note_text = flat(pdf_text((await desk.get(f"/api/v1/credit-notes/{note['id']}/pdf")).content))
    for expected in (
        "FACTURA RECTIFICATIVA",
        f"Rectifica la factura {issued['number']} del {day}",
        "Cortesía",
        f"Total abonado {MINUS}1.233,45 €",
        f"Pendiente ahora de la factura {issued['number']} 0,00 €",
    ):
        assert expected in note_text, expected


async def test_de_at_falls_back_to_german_and_an_unknown_locale_to_english(
    desk: httpx.AsyncClient, qc: QueueClinic, session: AsyncSession, clinic: Organization
) -> None:
    await _speak(session, clinic, "de-AT", "EUR")
    issued = await _invoice(desk, qc)
    day = document_date(date.fromisoformat(issued["issue_date"]), "de-AT").replace("\xa0", " ")
    text = flat(pdf_text((await desk.get(f"/api/v1/invoices/{issued['id']}/pdf")).content))
    for expected in (
        "RECHNUNG",
        f"Rechnungsdatum {day}",
        "Gesamtbetrag € 1.233,45",
        "Offener Betrag € 1.233,45",
        "STEUERPFLICHTIGER BETRAG",
        "Seite 1 von 1",
    ):
        assert expected in text, expected
    assert "Amount due" not in text

    await _speak(session, clinic, "zz-QQ", "USD")
    draft_only = await draft(desk, qc.patient_ids[1], {"name": "Visit", "unit_price": 4000})
    english = flat(pdf_text((await desk.get(f"/api/v1/invoices/{draft_only['id']}/pdf")).content))
    for expected in ("DRAFT INVOICE", "DRAFT — not an invoice yet", "Total $40.00", "Page 1 of 1"):
        assert expected in english, expected


async def test_a_receipt_of_a_real_payment_in_german(
    desk: httpx.AsyncClient, qc: QueueClinic, session: AsyncSession, clinic: Organization
) -> None:
    await _speak(session, clinic, "de", "EUR")
    issued = await _invoice(desk, qc)
    paid = await desk.post(
        "/api/v1/payments",
        json={
            "patient_id": str(qc.patient_ids[0]),
            "method": "bank_transfer",
            "amount": 50000,
            "reference": "SEPA-778",
        },
    )
    assert paid.status_code == 201, paid.text
    receipt = await desk.get(f"/api/v1/payments/{paid.json()['id']}/receipt/pdf")
    assert receipt.status_code == 200, receipt.text
    text = flat(pdf_text(receipt.content))
    for expected in (
        "QUITTUNG",
        "Zahlungsart Überweisung",
        "Erhaltener Betrag 500,00 €",
        f"{issued['number']} 500,00 €",
        "Saldo nach dieser Zahlung 733,45 €",
        "Referenz: SEPA-778",
    ):
        assert expected in text, expected


async def test_a_statement_in_spanish(
    people: People,
    desk: httpx.AsyncClient,
    qc: QueueClinic,
    session: AsyncSession,
    clinic: Organization,
) -> None:
    await _speak(session, clinic, "es", "EUR")
    issued = await _invoice(desk, qc)
    paid = await desk.post(
        "/api/v1/payments",
        json={"patient_id": str(qc.patient_ids[0]), "method": "card", "amount": 33345},
    )
    assert paid.status_code == 201, paid.text
    web = await people.web("desk")
    pdf = await web.get(f"/billing/statements/{qc.patient_ids[0]}.pdf")
    assert pdf.status_code == 200, pdf.text
    text = flat(pdf_text(pdf.content))
    for expected in (
        "ESTADO DE CUENTA",
        "Saldo pendiente 900,00 €",
        "Cargos y abonos",
        issued["number"],
        "Factura 1.233,45 €",
        "Pago (Tarjeta)",
        "0-30 días",
        "Más de 90 días",
        "Total pendiente",
    ):
        assert expected in text, expected
    # The page stays in the staff's English.
    page = await web.get(
        f"/billing/statements/{qc.patient_ids[0]}", headers={"accept": "text/html"}
    )
    assert "Payment (Card)" in page.text and "Pago" not in page.text


# --- the e-mail that carries the invoice ------------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server, stop = start_smtp_server(Inbox())
    try:
        yield server
    finally:
        stop()


async def test_the_invoice_email_speaks_the_clinics_language(
    app: FastAPI,
    desk: httpx.AsyncClient,
    qc: QueueClinic,
    session: AsyncSession,
    clinic: Organization,
    smtp: SmtpServer,
) -> None:
    await _speak(session, clinic, "es", "EUR")
    patient = await session.get_one(Patient, qc.patient_ids[0])
    patient.email = "ana@example.org"
    full_name = patient.full_name
    organization = await session.get_one(Organization, clinic.id)
    clinic_name = organization.name
    await session.commit()
    issued = await _invoice(desk, qc)
    assert (await desk.post(f"/api/v1/invoices/{issued['id']}/email")).status_code == 202
    mailer = SmtpMailSender(smtp.url(), sender="clinic@example.org")
    registry = job_registry(app.state.runtime.settings, mailer=mailer)
    assert await run_jobs_in(session, app.state.runtime.db, registry) == 1

    (envelope,) = smtp.inbox.envelopes
    assert isinstance(envelope.content, bytes)
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == f"Factura {issued['number']} de {clinic_name}"
    body = message.get_body(("plain",))
    assert body is not None
    content = body.get_content().replace("\xa0", " ")
    day = document_date(date.fromisoformat(issued["issue_date"]), "es").replace("\xa0", " ")
    for expected in (
        f"Estimado/a {full_name}:",
        f"Le adjuntamos la factura {issued['number']} del {day} de {clinic_name}.",
        "Total: 1.233,45 €",
        "Importe pendiente: 1.233,45 €",
        "póngase en contacto con la clínica",
    ):
        assert expected in content, expected
    assert "Dear" not in content and "Amount due" not in content
    (attachment,) = list(message.iter_attachments())
    assert "FACTURA" in pdf_text(attachment.get_content())
