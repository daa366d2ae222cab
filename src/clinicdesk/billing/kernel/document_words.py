"""The words of the billing documents (invoice, credit note, receipt, statement) and of
the e-mail that carries one, per language: a document speaks the organization's language
(``Organization.locale``), as the reply page and the shipped message templates of
notifications do, with a word table per language rather than a message catalogue.

Rules:
* The language is the locale's language part (``de-AT`` -> ``de``); a language with no
  table here prints in English. Dates follow the language the words are in, with the
  locale's own conventions when the locale is of that language (``de-AT`` writes dates
  the Austrian way); money always follows the locale (``kernel.formatting``).
* Every table has every key (a test checks), so a template never falls back word by
  word into another language.
* Only labels are translated: the clinic's texts, item names, reasons and numbers are
  data and print as typed.
* A phrase with a value in it names the value (``{number}``, ``{day}``); the caller fills
  it with ``str.format`` and the template escapes the result.

Pure; the dates use CLDR (Babel).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_date, format_time

from clinicdesk.billing.kernel.formatting import FALLBACK_LOCALE, parse_locale

Words = Mapping[str, str]

_EN: dict[str, str] = {
    # titles
    "invoice": "Invoice",
    "draft_invoice": "Draft invoice",
    "credit_note": "Credit note",
    "receipt": "Receipt",
    "statement": "Statement of account",
    "draft_mark": "DRAFT",
    "draft_banner": (
        "DRAFT — not an invoice yet: it has no number and may still change. Nothing is owed on it."
    ),
    # page footer (a CSS string: no quotes or backslashes)
    "page": "Page",
    "page_of": "of",
    # facts
    "number": "Number",
    "drafted": "Drafted",
    "issue_date": "Issue date",
    "currency": "Currency",
    "billed_to": "Billed to",
    "credited_to": "Credited to",
    "received_from": "Received from",
    "mrn": "MRN",
    # invoice lines and totals
    "description": "Description",
    "quantity": "Qty",
    "unit_price": "Unit price",
    "discount": "Discount",
    "discounts": "Discounts",
    "tax": "Tax",
    "line_total": "Total",
    "no_lines": "No lines yet.",
    "subtotal": "Subtotal",
    "total": "Total",
    "credited": "Credited",
    "amount_paid": "Amount paid",
    "amount_due": "Amount due",
    "tax_summary": "Tax summary",
    "rate": "Rate",
    "taxable_amount": "Taxable amount",
    "credit_notes": "Credit notes",
    "notes": "Notes",
    # credit note
    "corrects_invoice": "Corrects invoice",
    "invoice_of_day": "{number} of {day}",
    "reason": "Reason",
    "credited_line": "Credited",
    "tax_included": "Tax included",
    "amount": "Amount",
    "total_credited": "Total credited",
    "invoice_now_due": "Invoice {number} now due",
    # receipt
    "receipt_number": "Receipt",
    "received": "Received",
    "method": "Method",
    "taken_by": "Taken by",
    "amount_received": "Amount received",
    "applied_to_invoice": "Applied to invoice",
    "kept_as_credit": "Kept as credit",
    "balance_on": "Balance on {day}",
    "balance_after_payment": "Balance after this payment",
    "in_your_favour": "{label} (in your favour)",
    "note": "Note",
    "payment_reference": "Reference: {reference}",
    "payment_voided": "VOIDED — this payment was taken in error: {reason}",
    "payment_refunded": "Refunded {amount} on {day}: {reason}",
    "receipt_thanks": "Thank you. Keep this receipt for your records.",
    # payment methods
    "method_cash": "Cash",
    "method_card": "Card",
    "method_bank_transfer": "Bank transfer",
    "method_insurance": "Insurance",
    "method_other": "Other",
    # statement
    "patient": "Patient",
    "born": "born {day}",
    "period": "Period",
    "period_from_to": "{start} to {end}",
    "period_up_to": "Up to {day}",
    "balance_due": "Balance due",
    "charges_and_credits": "Charges and credits",
    "balance_by_age": "Balance by age (days since the invoice was issued)",
    "date": "Date",
    "document": "Document",
    "charge": "Charge",
    "credit": "Credit",
    "balance": "Balance",
    "opening_balance": "Opening balance",
    "nothing_in_period": "Nothing was charged or credited in this period.",
    "balance_on_in": "Balance on {day} ({currency})",
    "age_0_30": "0-30 days",
    "age_31_60": "31-60 days",
    "age_61_90": "61-90 days",
    "age_over_90": "Over 90 days",
    "total_due": "Total due",
    "credit_on_account": "Credit on account (not yet used): {amount}",
    "line_invoice": "Invoice",
    "line_credit_note": "Credit note for {number}: {reason}",
    "line_payment": "Payment ({method})",
    "line_refund": "Refund ({method}): {reason}",
    # the e-mail that carries an invoice
    "mail_subject": "Invoice {number} from {clinic}",
    "mail_greeting": "Dear {name},",
    "mail_attached": "Please find attached invoice {number} of {day} from {clinic}.",
    "mail_total": "Total: {amount}",
    "mail_due": "Amount due: {amount}",
    "mail_question": "If you have a question about it, please contact the clinic.",
}

_ES: dict[str, str] = {
    "invoice": "Factura",
    "draft_invoice": "Borrador de factura",
    "credit_note": "Factura rectificativa",
    "receipt": "Recibo",
    "statement": "Estado de cuenta",
    "draft_mark": "BORRADOR",
    "draft_banner": (
        "BORRADOR — todavía no es una factura: no tiene número y aún puede cambiar. "
        "No se debe nada por ella."
    ),
    "page": "Página",
    "page_of": "de",
    "number": "Número",
    "drafted": "Redactada",
    "issue_date": "Fecha de emisión",
    "currency": "Moneda",
    "billed_to": "Facturado a",
    "credited_to": "Abonado a",
    "received_from": "Recibido de",
    "mrn": "N.º de historia",
    "description": "Descripción",
    "quantity": "Cant.",
    "unit_price": "Precio unitario",
    "discount": "Descuento",
    "discounts": "Descuentos",
    "tax": "Impuesto",
    "line_total": "Total",
    "no_lines": "Todavía no hay líneas.",
    "subtotal": "Subtotal",
    "total": "Total",
    "credited": "Abonado",
    "amount_paid": "Importe pagado",
    "amount_due": "Importe pendiente",
    "tax_summary": "Resumen de impuestos",
    "rate": "Tipo",
    "taxable_amount": "Base imponible",
    "credit_notes": "Facturas rectificativas",
    "notes": "Notas",
    "corrects_invoice": "Rectifica la factura",
    "invoice_of_day": "{number} del {day}",
    "reason": "Motivo",
    "credited_line": "Abonado",
    "tax_included": "Impuesto incluido",
    "amount": "Importe",
    "total_credited": "Total abonado",
    "invoice_now_due": "Pendiente ahora de la factura {number}",
    "receipt_number": "Recibo",
    "received": "Recibido",
    "method": "Forma de pago",
    "taken_by": "Cobrado por",
    "amount_received": "Importe recibido",
    "applied_to_invoice": "Aplicado a la factura",
    "kept_as_credit": "Queda como saldo a favor",
    "balance_on": "Saldo al {day}",
    "balance_after_payment": "Saldo tras este pago",
    "in_your_favour": "{label} (a su favor)",
    "note": "Nota",
    "payment_reference": "Referencia: {reference}",
    "payment_voided": "ANULADO — este pago se registró por error: {reason}",
    "payment_refunded": "Reembolsado {amount} el {day}: {reason}",
    "receipt_thanks": "Gracias. Conserve este recibo como justificante.",
    "method_cash": "Efectivo",
    "method_card": "Tarjeta",
    "method_bank_transfer": "Transferencia bancaria",
    "method_insurance": "Seguro",
    "method_other": "Otro",
    "patient": "Paciente",
    "born": "nacido/a el {day}",
    "period": "Periodo",
    "period_from_to": "Del {start} al {end}",
    "period_up_to": "Hasta el {day}",
    "balance_due": "Saldo pendiente",
    "charges_and_credits": "Cargos y abonos",
    "balance_by_age": "Saldo por antigüedad (días desde la emisión de la factura)",
    "date": "Fecha",
    "document": "Documento",
    "charge": "Cargo",
    "credit": "Abono",
    "balance": "Saldo",
    "opening_balance": "Saldo inicial",
    "nothing_in_period": "No hubo cargos ni abonos en este periodo.",
    "balance_on_in": "Saldo al {day} ({currency})",
    "age_0_30": "0-30 días",
    "age_31_60": "31-60 días",
    "age_61_90": "61-90 días",
    "age_over_90": "Más de 90 días",
    "total_due": "Total pendiente",
    "credit_on_account": "Saldo a favor (aún sin usar): {amount}",
    "line_invoice": "Factura",
    "line_credit_note": "Factura rectificativa de {number}: {reason}",
    "line_payment": "Pago ({method})",
    "line_refund": "Reembolso ({method}): {reason}",
    "mail_subject": "Factura {number} de {clinic}",
    "mail_greeting": "Estimado/a {name}:",
    "mail_attached": "Le adjuntamos la factura {number} del {day} de {clinic}.",
    "mail_total": "Total: {amount}",
    "mail_due": "Importe pendiente: {amount}",
    "mail_question": "Si tiene alguna pregunta sobre ella, póngase en contacto con la clínica.",
}

_FR: dict[str, str] = {
    "invoice": "Facture",
    "draft_invoice": "Projet de facture",
    "credit_note": "Avoir",
    "receipt": "Reçu",
    "statement": "Relevé de compte",
    "draft_mark": "PROJET",
    "draft_banner": (
        "PROJET — pas encore une facture\u00a0: elle n'a pas de numéro et peut encore changer. "
        "Rien n'est dû à ce titre."
    ),
    "page": "Page",
    "page_of": "sur",
    "number": "Numéro",
    "drafted": "Établi le",
    "issue_date": "Date d'émission",
    "currency": "Devise",
    "billed_to": "Facturé à",
    "credited_to": "Crédité à",
    "received_from": "Reçu de",
    "mrn": "N° de dossier",
    "description": "Désignation",
    "quantity": "Qté",
    "unit_price": "Prix unitaire",
    "discount": "Remise",
    "discounts": "Remises",
    "tax": "Taxe",
    "line_total": "Total",
    "no_lines": "Aucune ligne pour l'instant.",
    "subtotal": "Sous-total",
    "total": "Total",
    "credited": "Avoirs",
    "amount_paid": "Montant payé",
    "amount_due": "Montant dû",
    "tax_summary": "Récapitulatif des taxes",
    "rate": "Taux",
    "taxable_amount": "Base imposable",
    "credit_notes": "Avoirs",
    "notes": "Remarques",
    "corrects_invoice": "Rectifie la facture",
    "invoice_of_day": "{number} du {day}",
    "reason": "Motif",
    "credited_line": "Crédité",
    "tax_included": "Dont taxes",
    "amount": "Montant",
    "total_credited": "Total crédité",
    "invoice_now_due": "Reste dû sur la facture {number}",
    "receipt_number": "Reçu",
    "received": "Reçu le",
    "method": "Mode de paiement",
    "taken_by": "Encaissé par",
    "amount_received": "Montant reçu",
    "applied_to_invoice": "Affecté à la facture",
    "kept_as_credit": "Conservé en crédit",
    "balance_on": "Solde au {day}",
    "balance_after_payment": "Solde après ce paiement",
    "in_your_favour": "{label} (en votre faveur)",
    "note": "Remarque",
    "payment_reference": "Référence\u00a0: {reference}",
    "payment_voided": "ANNULÉ — ce paiement a été saisi par erreur\u00a0: {reason}",
    "payment_refunded": "Remboursé {amount} le {day}\u00a0: {reason}",
    "receipt_thanks": "Merci. Conservez ce reçu pour vos dossiers.",
    "method_cash": "Espèces",
    "method_card": "Carte",
    "method_bank_transfer": "Virement bancaire",
    "method_insurance": "Assurance",
    "method_other": "Autre",
    "patient": "Patient",
    "born": "né(e) le {day}",
    "period": "Période",
    "period_from_to": "Du {start} au {end}",
    "period_up_to": "Jusqu'au {day}",
    "balance_due": "Solde dû",
    "charges_and_credits": "Débits et crédits",
    "balance_by_age": "Solde par ancienneté (jours depuis l'émission de la facture)",
    "date": "Date",
    "document": "Document",
    "charge": "Débit",
    "credit": "Crédit",
    "balance": "Solde",
    "opening_balance": "Solde d'ouverture",
    "nothing_in_period": "Aucun débit ni crédit sur cette période.",
    "balance_on_in": "Solde au {day} ({currency})",
    "age_0_30": "0-30 jours",
    "age_31_60": "31-60 jours",
    "age_61_90": "61-90 jours",
    "age_over_90": "Plus de 90 jours",
    "total_due": "Total dû",
    "credit_on_account": "Crédit disponible (non encore utilisé)\u00a0: {amount}",
    "line_invoice": "Facture",
    "line_credit_note": "Avoir sur {number}\u00a0: {reason}",
    "line_payment": "Paiement ({method})",
    "line_refund": "Remboursement ({method})\u00a0: {reason}",
    "mail_subject": "Facture {number} de {clinic}",
    "mail_greeting": "Bonjour {name},",
    "mail_attached": "Veuillez trouver ci-joint la facture {number} du {day} de {clinic}.",
    "mail_total": "Total\u00a0: {amount}",
    "mail_due": "Montant dû\u00a0: {amount}",
    "mail_question": "Pour toute question à son sujet, veuillez contacter la clinique.",
}

_DE: dict[str, str] = {
    "invoice": "Rechnung",
    "draft_invoice": "Rechnungsentwurf",
    "credit_note": "Rechnungskorrektur",
    "receipt": "Quittung",
    "statement": "Kontoauszug",
    "draft_mark": "ENTWURF",
    "draft_banner": (
        "ENTWURF — noch keine Rechnung: Sie hat keine Nummer und kann sich noch ändern. "
        "Es ist nichts zu zahlen."
    ),
    "page": "Seite",
    "page_of": "von",
    "number": "Nummer",
    "drafted": "Erstellt",
    "issue_date": "Rechnungsdatum",
    "currency": "Währung",
    "billed_to": "Rechnungsempfänger",
    "credited_to": "Gutschrift für",
    "received_from": "Erhalten von",
    "mrn": "Patientennummer",
    "description": "Beschreibung",
    "quantity": "Menge",
    "unit_price": "Einzelpreis",
    "discount": "Rabatt",
    "discounts": "Rabatte",
    "tax": "Steuer",
    "line_total": "Gesamt",
    "no_lines": "Noch keine Positionen.",
    "subtotal": "Zwischensumme",
    "total": "Gesamtbetrag",
    "credited": "Gutgeschrieben",
    "amount_paid": "Bezahlt",
    "amount_due": "Offener Betrag",
    "tax_summary": "Steuerübersicht",
    "rate": "Satz",
    "taxable_amount": "Steuerpflichtiger Betrag",
    "credit_notes": "Rechnungskorrekturen",
    "notes": "Hinweise",
    "corrects_invoice": "Korrigiert Rechnung",
    "invoice_of_day": "{number} vom {day}",
    "reason": "Grund",
    "credited_line": "Gutgeschrieben",
    "tax_included": "Enthaltene Steuer",
    "amount": "Betrag",
    "total_credited": "Gutschrift gesamt",
    "invoice_now_due": "Rechnung {number} noch offen",
    "receipt_number": "Quittung",
    "received": "Erhalten am",
    "method": "Zahlungsart",
    "taken_by": "Kassiert von",
    "amount_received": "Erhaltener Betrag",
    "applied_to_invoice": "Verrechnet mit Rechnung",
    "kept_as_credit": "Als Guthaben behalten",
    "balance_on": "Saldo am {day}",
    "balance_after_payment": "Saldo nach dieser Zahlung",
    "in_your_favour": "{label} (zu Ihren Gunsten)",
    "note": "Hinweis",
    "payment_reference": "Referenz: {reference}",
    "payment_voided": "STORNIERT — diese Zahlung wurde irrtümlich erfasst: {reason}",
    "payment_refunded": "{amount} erstattet am {day}: {reason}",
    "receipt_thanks": "Vielen Dank. Bitte bewahren Sie diese Quittung für Ihre Unterlagen auf.",
    "method_cash": "Bar",
    "method_card": "Karte",
    "method_bank_transfer": "Überweisung",
    "method_insurance": "Versicherung",
    "method_other": "Sonstige",
    "patient": "Patient/in",
    "born": "geboren am {day}",
    "period": "Zeitraum",
    "period_from_to": "{start} bis {end}",
    "period_up_to": "Bis {day}",
    "balance_due": "Offener Saldo",
    "charges_and_credits": "Belastungen und Gutschriften",
    "balance_by_age": "Saldo nach Alter (Tage seit Rechnungsdatum)",
    "date": "Datum",
    "document": "Beleg",
    "charge": "Belastung",
    "credit": "Gutschrift",
    "balance": "Saldo",
    "opening_balance": "Anfangssaldo",
    "nothing_in_period": "In diesem Zeitraum gab es keine Belastungen oder Gutschriften.",
    "balance_on_in": "Saldo am {day} ({currency})",
    "age_0_30": "0-30 Tage",
    "age_31_60": "31-60 Tage",
    "age_61_90": "61-90 Tage",
    "age_over_90": "Über 90 Tage",
    "total_due": "Summe offen",
    "credit_on_account": "Guthaben (noch nicht verwendet): {amount}",
    "line_invoice": "Rechnung",
    "line_credit_note": "Rechnungskorrektur zu {number}: {reason}",
    "line_payment": "Zahlung ({method})",
    "line_refund": "Erstattung ({method}): {reason}",
    "mail_subject": "Rechnung {number} von {clinic}",
    "mail_greeting": "Guten Tag {name},",
    "mail_attached": "anbei erhalten Sie die Rechnung {number} vom {day} von {clinic}.",
    "mail_total": "Gesamtbetrag: {amount}",
    "mail_due": "Offener Betrag: {amount}",
    "mail_question": "Bei Fragen dazu wenden Sie sich bitte an die Praxis.",
}

_PT: dict[str, str] = {
    "invoice": "Fatura",
    "draft_invoice": "Rascunho de fatura",
    "credit_note": "Nota de crédito",
    "receipt": "Recibo",
    "statement": "Extrato de conta",
    "draft_mark": "RASCUNHO",
    "draft_banner": (
        "RASCUNHO — ainda não é uma fatura: não tem número e ainda pode mudar. "
        "Nada é devido por ela."
    ),
    "page": "Página",
    "page_of": "de",
    "number": "Número",
    "drafted": "Redigida",
    "issue_date": "Data de emissão",
    "currency": "Moeda",
    "billed_to": "Faturado a",
    "credited_to": "Creditado a",
    "received_from": "Recebido de",
    "mrn": "N.º de processo",
    "description": "Descrição",
    "quantity": "Qtd.",
    "unit_price": "Preço unitário",
    "discount": "Desconto",
    "discounts": "Descontos",
    "tax": "Imposto",
    "line_total": "Total",
    "no_lines": "Ainda sem linhas.",
    "subtotal": "Subtotal",
    "total": "Total",
    "credited": "Creditado",
    "amount_paid": "Valor pago",
    "amount_due": "Valor em dívida",
    "tax_summary": "Resumo de impostos",
    "rate": "Taxa",
    "taxable_amount": "Base tributável",
    "credit_notes": "Notas de crédito",
    "notes": "Observações",
    "corrects_invoice": "Corrige a fatura",
    "invoice_of_day": "{number} de {day}",
    "reason": "Motivo",
    "credited_line": "Creditado",
    "tax_included": "Imposto incluído",
    "amount": "Valor",
    "total_credited": "Total creditado",
    "invoice_now_due": "Em dívida na fatura {number}",
    "receipt_number": "Recibo",
    "received": "Recebido em",
    "method": "Forma de pagamento",
    "taken_by": "Recebido por",
    "amount_received": "Valor recebido",
    "applied_to_invoice": "Aplicado à fatura",
    "kept_as_credit": "Mantido como crédito",
    "balance_on": "Saldo em {day}",
    "balance_after_payment": "Saldo após este pagamento",
    "in_your_favour": "{label} (a seu favor)",
    "note": "Observação",
    "payment_reference": "Referência: {reference}",
    "payment_voided": "ANULADO — este pagamento foi registado por engano: {reason}",
    "payment_refunded": "Reembolsado {amount} em {day}: {reason}",
    "receipt_thanks": "Obrigado. Guarde este recibo para os seus registos.",
    "method_cash": "Numerário",
    "method_card": "Cartão",
    "method_bank_transfer": "Transferência bancária",
    "method_insurance": "Seguro",
    "method_other": "Outro",
    "patient": "Paciente",
    "born": "nascido/a em {day}",
    "period": "Período",
    "period_from_to": "De {start} a {end}",
    "period_up_to": "Até {day}",
    "balance_due": "Saldo em dívida",
    "charges_and_credits": "Débitos e créditos",
    "balance_by_age": "Saldo por antiguidade (dias desde a emissão da fatura)",
    "date": "Data",
    "document": "Documento",
    "charge": "Débito",
    "credit": "Crédito",
    "balance": "Saldo",
    "opening_balance": "Saldo inicial",
    "nothing_in_period": "Não houve débitos nem créditos neste período.",
    "balance_on_in": "Saldo em {day} ({currency})",
    "age_0_30": "0-30 dias",
    "age_31_60": "31-60 dias",
    "age_61_90": "61-90 dias",
    "age_over_90": "Mais de 90 dias",
    "total_due": "Total em dívida",
    "credit_on_account": "Crédito disponível (ainda não usado): {amount}",
    "line_invoice": "Fatura",
    "line_credit_note": "Nota de crédito de {number}: {reason}",
    "line_payment": "Pagamento ({method})",
    "line_refund": "Reembolso ({method}): {reason}",
    "mail_subject": "Fatura {number} de {clinic}",
    "mail_greeting": "Caro/a {name},",
    "mail_attached": "Enviamos em anexo a fatura {number} de {day} de {clinic}.",
    "mail_total": "Total: {amount}",
    "mail_due": "Valor em dívida: {amount}",
    "mail_question": "Se tiver alguma dúvida sobre ela, contacte a clínica.",
}

WORDS: Mapping[str, Words] = MappingProxyType(
    {
        "en": MappingProxyType(_EN),
        "es": MappingProxyType(_ES),
        "fr": MappingProxyType(_FR),
        "de": MappingProxyType(_DE),
        "pt": MappingProxyType(_PT),
    }
)
LANGUAGES = tuple(WORDS)
FALLBACK_LANGUAGE = "en"
# The aging buckets' keys (``aging.Buckets.as_tuple`` order) and their words.
AGE_KEYS = ("age_0_30", "age_31_60", "age_61_90", "age_over_90")


def language_of(locale: str | None) -> str:
    """The language a document is written in for ``locale``: its language part when
    there are words for it, English otherwise (also for an unknown or malformed tag)."""
    language = parse_locale(locale).language
    return language if language in WORDS else FALLBACK_LANGUAGE


def words_for(locale: str | None) -> Words:
    return WORDS[language_of(locale)]


@lru_cache(maxsize=64)
def date_locale(locale: str | None) -> Locale:
    """The locale dates are written in: the organization's when its language is the
    words' (``de-AT``), else the words' language (an ``it`` clinic gets English words,
    so English month names too, never a mix)."""
    where = parse_locale(locale)
    if where.language == language_of(locale):
        return where
    return Locale.parse(FALLBACK_LOCALE)


def document_date(value: date | None, locale: str | None) -> str:
    """A calendar date as the document's language writes it (``Dec 5, 2026``,
    ``5 dic 2026``, ``05.12.2026``): the month in words or in the language's own order,
    so no reader takes the 5th of December for the 12th of May. Its spaces do not break:
    a date never wraps across two lines of a table cell."""
    if value is None:
        return "—"
    return _unbroken(format_date(value, format="medium", locale=date_locale(locale)))


def _unbroken(text: str) -> str:
    return text.replace(" ", "\u00a0")


def document_moment(value: datetime | None, time_zone: str | None, locale: str | None) -> str:
    """A UTC timestamp in ``time_zone`` (UTC when unknown), as date and time in the
    document's language (``Dec 5, 2026, 10:30 AM``; ``05.12.2026, 10:30``)."""
    if value is None:
        return "—"
    try:
        zone = ZoneInfo(time_zone) if time_zone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    local = value.astimezone(zone)
    where = date_locale(locale)
    day = _unbroken(format_date(local.date(), format="medium", locale=where))
    clock = _unbroken(format_time(local.time(), format="short", locale=where))
    pattern = str(where.datetime_formats.get("medium", "{1} {0}"))
    return pattern.replace("{1}", day).replace("{0}", clock)


def method_key(method: str) -> str | None:
    """The words' key of a payment method (``bank_transfer`` -> ``method_bank_transfer``),
    None for a method the table does not know."""
    key = f"method_{method}"
    return key if key in _EN else None


def method_words(method: str, words: Words) -> str:
    """A payment method in the document's language; an unknown one as stored."""
    key = method_key(method)
    return words[key] if key else method
