"""The templates ClinicDesk ships, in English and Spanish, for e-mail and for text
messages (SMS and WhatsApp share one wording). An organization's own template for a
purpose, channel and language replaces the default.

Every text message says who sends it and how to stop (carriers expect it); none says why
the patient is coming.
"""

from __future__ import annotations

from dataclasses import dataclass

from clinicdesk.notifications.vocabulary import Channel, Purpose


@dataclass(frozen=True, slots=True)
class Wording:
    subject: str | None
    body: str


_TEXT_EN: dict[Purpose, str] = {
    Purpose.BOOKED: (
        "{{ clinic_name }}: {{ patient_name }}, you are booked with {{ provider_name }} on "
        "{{ date }} at {{ time }} ({{ location_name }}). Reply C to confirm, X to cancel, "
        "R to ask for a call. STOP to opt out."
    ),
    Purpose.RESCHEDULED: (
        "{{ clinic_name }}: {{ patient_name }}, your appointment moved to {{ date }} at "
        "{{ time }} with {{ provider_name }} ({{ location_name }}). Reply C to confirm, "
        "X to cancel, R to ask for a call. STOP to opt out."
    ),
    Purpose.CANCELLED: (
        "{{ clinic_name }}: {{ patient_name }}, your appointment on {{ date }} at {{ time }} "
        "is cancelled. Call {{ location_phone }} to book again. STOP to opt out."
    ),
    Purpose.REMINDER: (
        "{{ clinic_name }}: reminder, {{ patient_name }}, you see {{ provider_name }} on "
        "{{ date }} at {{ time }} ({{ location_name }}). Reply C to confirm, X to cancel, "
        "R to ask for a call. STOP to opt out."
    ),
    Purpose.WAITLIST_OFFER: (
        "{{ clinic_name }}: {{ patient_name }}, a time opened up with {{ provider_name }} on "
        "{{ date }} at {{ time }} ({{ location_name }}). Reply C to take it. STOP to opt out."
    ),
    Purpose.TURN_NEAR: (
        "{{ clinic_name }}: {{ patient_name }}, your turn is near ({{ position }} ahead of "
        "you). Please come back to {{ location_name }}."
    ),
    Purpose.TEST: "{{ clinic_name }}: this is a test message from ClinicDesk.",
    Purpose.RECALL: (
        "{{ clinic_name }}: {{ patient_name }}, it is time to book your check-up with us. "
        "Call {{ location_phone }} or reply R and we will call you. STOP to opt out."
    ),
}

_TEXT_ES: dict[Purpose, str] = {
    Purpose.BOOKED: (
        "{{ clinic_name }}: {{ patient_name }}, tiene cita con {{ provider_name }} el "
        "{{ date }} a las {{ time }} ({{ location_name }}). Responda C para confirmar, X "
        "para cancelar, R para que le llamemos. STOP para no recibir mensajes."
    ),
    Purpose.RESCHEDULED: (
        "{{ clinic_name }}: {{ patient_name }}, su cita cambió al {{ date }} a las "
        "{{ time }} con {{ provider_name }} ({{ location_name }}). Responda C para "
        "confirmar, X para cancelar, R para que le llamemos. STOP para no recibir mensajes."
    ),
    Purpose.CANCELLED: (
        "{{ clinic_name }}: {{ patient_name }}, su cita del {{ date }} a las {{ time }} "
        "está cancelada. Llame al {{ location_phone }} para pedir otra. STOP para no "
        "recibir mensajes."
    ),
    Purpose.REMINDER: (
        "{{ clinic_name }}: recordatorio, {{ patient_name }}, tiene cita con "
        "{{ provider_name }} el {{ date }} a las {{ time }} ({{ location_name }}). Responda "
        "C para confirmar, X para cancelar, R para que le llamemos. STOP para no recibir "
        "mensajes."
    ),
    Purpose.WAITLIST_OFFER: (
        "{{ clinic_name }}: {{ patient_name }}, se liberó una hora con {{ provider_name }} "
        "el {{ date }} a las {{ time }} ({{ location_name }}). Responda C para tomarla. "
        "STOP para no recibir mensajes."
    ),
    Purpose.TURN_NEAR: (
        "{{ clinic_name }}: {{ patient_name }}, su turno está cerca ({{ position }} por "
        "delante). Por favor vuelva a {{ location_name }}."
    ),
    Purpose.TEST: "{{ clinic_name }}: este es un mensaje de prueba de ClinicDesk.",
    Purpose.RECALL: (
        "{{ clinic_name }}: {{ patient_name }}, es momento de pedir su cita de control con "
        "nosotros. Llame al {{ location_phone }} o responda R y le llamaremos. STOP para no "
        "recibir mensajes."
    ),
}

_SUBJECT_EN: dict[Purpose, str] = {
    Purpose.BOOKED: "Your appointment on {{ date }} at {{ time }}",
    Purpose.RESCHEDULED: "Your appointment moved to {{ date }} at {{ time }}",
    Purpose.CANCELLED: "Your appointment on {{ date }} is cancelled",
    Purpose.REMINDER: "Reminder: your appointment on {{ date }} at {{ time }}",
    Purpose.WAITLIST_OFFER: "A time opened up on {{ date }} at {{ time }}",
    Purpose.TURN_NEAR: "Your turn is near",
    Purpose.TEST: "Test message from {{ clinic_name }}",
    Purpose.RECALL: "Time to book your check-up",
}
_SUBJECT_ES: dict[Purpose, str] = {
    Purpose.BOOKED: "Su cita del {{ date }} a las {{ time }}",
    Purpose.RESCHEDULED: "Su cita cambió al {{ date }} a las {{ time }}",
    Purpose.CANCELLED: "Su cita del {{ date }} está cancelada",
    Purpose.REMINDER: "Recordatorio: su cita del {{ date }} a las {{ time }}",
    Purpose.WAITLIST_OFFER: "Se liberó una hora el {{ date }} a las {{ time }}",
    Purpose.TURN_NEAR: "Su turno está cerca",
    Purpose.TEST: "Mensaje de prueba de {{ clinic_name }}",
    Purpose.RECALL: "Es momento de pedir su cita de control",
}

_EMAIL_EN = (
    "Hello {{ patient_name }},\n\n{body}\n\n{links}{{ clinic_name }}\n{{ location_name }}"
    "\n{{ location_address }}\n{{ location_phone }}"
)
_EMAIL_ES = (
    "Hola {{ patient_name }}:\n\n{body}\n\n{links}{{ clinic_name }}\n{{ location_name }}"
    "\n{{ location_address }}\n{{ location_phone }}"
)
_EMAIL_LINES_EN: dict[Purpose, str] = {
    Purpose.BOOKED: "You are booked with {{ provider_name }} on {{ date }} at {{ time }}.",
    Purpose.RESCHEDULED: (
        "Your appointment with {{ provider_name }} moved to {{ date }} at {{ time }}."
    ),
    Purpose.CANCELLED: (
        "Your appointment on {{ date }} at {{ time }} is cancelled. Call us to book again."
    ),
    Purpose.REMINDER: (
        "This is a reminder of your appointment with {{ provider_name }} on {{ date }} at "
        "{{ time }}."
    ),
    Purpose.WAITLIST_OFFER: (
        "A time opened up with {{ provider_name }} on {{ date }} at {{ time }}. Call us to take it."
    ),
    Purpose.TURN_NEAR: "Your turn is near: {{ position }} ahead of you.",
    Purpose.TEST: "This is a test message from ClinicDesk.",
    Purpose.RECALL: (
        "It is time to book your check-up with us. Call {{ location_phone }} and we will "
        "find a time that suits you."
    ),
}
_EMAIL_LINES_ES: dict[Purpose, str] = {
    Purpose.BOOKED: "Tiene cita con {{ provider_name }} el {{ date }} a las {{ time }}.",
    Purpose.RESCHEDULED: "Su cita con {{ provider_name }} cambió al {{ date }} a las {{ time }}.",
    Purpose.CANCELLED: (
        "Su cita del {{ date }} a las {{ time }} está cancelada. Llámenos para pedir otra."
    ),
    Purpose.REMINDER: (
        "Le recordamos su cita con {{ provider_name }} el {{ date }} a las {{ time }}."
    ),
    Purpose.WAITLIST_OFFER: (
        "Se liberó una hora con {{ provider_name }} el {{ date }} a las {{ time }}. "
        "Llámenos para tomarla."
    ),
    Purpose.TURN_NEAR: "Su turno está cerca: {{ position }} por delante.",
    Purpose.TEST: "Este es un mensaje de prueba de ClinicDesk.",
    Purpose.RECALL: (
        "Es momento de pedir su cita de control. Llame al {{ location_phone }} y buscaremos "
        "una hora que le convenga."
    ),
}
_LINKS_EN = "Confirm: {{ confirm_link }}\nCancel: {{ cancel_link }}\n\n"
_LINKS_ES = "Confirmar: {{ confirm_link }}\nCancelar: {{ cancel_link }}\n\n"
_WITH_LINKS = frozenset({Purpose.BOOKED, Purpose.RESCHEDULED, Purpose.REMINDER})


def default_wording(purpose: Purpose, channel: Channel, language: str) -> Wording:
    """The shipped wording (Spanish for "es", English otherwise)."""
    spanish = language == "es"
    if channel != Channel.EMAIL:
        return Wording(subject=None, body=(_TEXT_ES if spanish else _TEXT_EN)[purpose])
    lines = (_EMAIL_LINES_ES if spanish else _EMAIL_LINES_EN)[purpose]
    links = (_LINKS_ES if spanish else _LINKS_EN) if purpose in _WITH_LINKS else ""
    frame = _EMAIL_ES if spanish else _EMAIL_EN
    return Wording(
        subject=(_SUBJECT_ES if spanish else _SUBJECT_EN)[purpose],
        body=frame.replace("{body}", lines).replace("{links}", links),
    )
