"""The errors of notifications, each a 4xx a person can act on."""

from __future__ import annotations

from clinicdesk.core.errors import ClinicError, Conflict, NotFound


class MessageNotFound(NotFound):
    pass


class TemplateRefused(ClinicError):
    status_code = 422
    title = "The template cannot be used"
    code = "template-invalid"


class ReplyLinkInvalid(NotFound):
    title = "This link does not work any more"
    code = "reply-link-invalid"


class ResendRefused(Conflict):
    title = "The message cannot be sent again"
    code = "resend-refused"


class ChannelUnavailable(ClinicError):
    status_code = 422
    title = "The channel cannot be used"
    code = "channel-unavailable"


class WebhookRefused(ClinicError):
    status_code = 403
    title = "The webhook's signature is not valid"
    code = "webhook-signature"


class TemplateNotFound(NotFound):
    title = "No such template"
    code = "template-not-found"


class ChannelCheckFailed(ClinicError):
    """The provider (or the sink) did not answer as it should: its own words say why."""

    status_code = 502
    title = "The channel's connection test failed"
    code = "channel-check-failed"


class ChannelNotFound(NotFound):
    title = "No such channel"
    code = "channel-not-found"


class AlertNotFound(NotFound):
    title = "Alert not found"
    code = "alert-not-found"
