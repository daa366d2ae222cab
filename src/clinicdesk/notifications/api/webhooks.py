"""The text provider's webhooks: delivery receipts and patients' replies.

Public routes (in ``clinicdesk.app.PUBLIC_PATHS``): Twilio has no user here, and its
``X-Twilio-Signature`` over the exact URL and form fields is its only credential, checked
before anything is read. The URL signed is the one Twilio was given: the server's public
address (``CLINICDESK_PUBLIC_URL``) and the path, never the request's Host header.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response

from clinicdesk.core.routing import APIRouter
from clinicdesk.core.runtime import SessionDep
from clinicdesk.notifications.channels import Senders
from clinicdesk.notifications.errors import ChannelUnavailable, WebhookRefused
from clinicdesk.notifications.service import inbound
from clinicdesk.notifications.service.delivery import WEBHOOK_STATUS_PATH
from clinicdesk.notifications.twilio import parse_inbound, parse_status_callback, verify_signature
from clinicdesk.notifications.vocabulary import Channel

WEBHOOK_INBOUND_PATH = "/api/v1/notifications/twilio/inbound"
# An empty TwiML answer: Twilio sends nothing back by itself.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

public = APIRouter(tags=["notifications"])


def configured_senders(request: Request) -> Senders:
    senders: Senders = request.app.state.notifications
    return senders


SendersDep = Annotated[Senders, Depends(configured_senders)]


async def _signed_form(request: Request, senders: Senders, path: str) -> dict[str, str]:
    if senders.text_auth_token is None:
        raise ChannelUnavailable("No text provider is set up on this server.")
    form = await request.form()
    params = {key: str(value) for key, value in form.items()}
    url = f"{senders.webhook_base}{path}"
    if request.url.query:
        url = f"{url}?{request.url.query}"
    signature = request.headers.get("x-twilio-signature", "")
    if not verify_signature(
        auth_token=senders.text_auth_token, url=url, params=params, signature=signature
    ):
        raise WebhookRefused("The request is not signed by the text provider.")
    return params


@public.post(
    WEBHOOK_STATUS_PATH,
    summary="Twilio's delivery receipts (signed by Twilio; no sign-in)",
    status_code=204,
)
async def twilio_status(request: Request, session: SessionDep, senders: SendersDep) -> Response:
    params = await _signed_form(request, senders, WEBHOOK_STATUS_PATH)
    try:
        update = parse_status_callback(params)
    except ValueError as error:
        raise ChannelUnavailable(str(error)) from None
    await inbound.apply_receipt(
        session,
        inbound.Receipt(
            provider="twilio",
            provider_id=update.provider_id,
            status=update.status,
            error_code=update.error_code,
        ),
    )
    return Response(status_code=204)


@public.post(
    WEBHOOK_INBOUND_PATH,
    summary="Patients' text replies through Twilio (signed by Twilio; no sign-in)",
    response_class=Response,
)
async def twilio_inbound(request: Request, session: SessionDep, senders: SendersDep) -> Response:
    params = await _signed_form(request, senders, WEBHOOK_INBOUND_PATH)
    try:
        text = parse_inbound(params)
    except ValueError as error:
        raise ChannelUnavailable(str(error)) from None
    await inbound.receive_reply(
        session,
        provider="twilio",
        provider_id=text.provider_id,
        channel=Channel(text.channel),
        from_address=text.from_number,
        body=text.body,
    )
    return Response(content=EMPTY_TWIML, media_type="text/xml")
