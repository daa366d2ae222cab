"""Background jobs of the identity domain."""

from __future__ import annotations

from clinicdesk.core.jobs import JobContext, JobRegistry
from clinicdesk.identity.config import LinkConfig
from clinicdesk.identity.service import recovery


def register_identity_jobs(registry: JobRegistry, *, links: LinkConfig) -> None:
    """``identity.password_reset``: links are built from ``links.base_url``, the configured
    public address (a job has no request, and a request's Host header is never trusted)."""

    async def send_reset_link(context: JobContext, payload: recovery.PasswordResetPayload) -> None:
        await recovery.send_password_reset_link(
            context.session, email=payload.email, links=links, requested_at=context.run_at
        )

    registry.register(recovery.PASSWORD_RESET, send_reset_link)
