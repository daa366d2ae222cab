"""What other domains may use of identity: the organization and its locations, users'
names, the patient-portal accounts of a patient, how far the organization's set-up has
come, and the read types they hand back.

Other domains hold and show these read types (a ``Location`` on a board, a ``User`` in a
list); they never query identity's tables themselves (an import-linter contract protects
``identity.models`` and ``identity.service``; tests/test_architecture.py checks queries).
"""

from clinicdesk.identity.config import IdentityConfig
from clinicdesk.identity.models import Location, Organization, User, UserKind
from clinicdesk.identity.service.common import get_user
from clinicdesk.identity.service.organizations import (
    active_locations,
    active_organization_ids,
    get_location,
    get_organization,
    list_locations,
)
from clinicdesk.identity.service.portal_accounts import of_patient as portal_accounts_of
from clinicdesk.identity.service.portal_accounts import rebind_to_kept_patient
from clinicdesk.identity.service.sessions import resolve_access_token, resolve_web_session
from clinicdesk.identity.service.setup_status import OrganizationSetup, organization_setup
from clinicdesk.identity.service.users import invite_user, names_of

__all__ = [
    "IdentityConfig",
    "Location",
    "Organization",
    "OrganizationSetup",
    "User",
    "UserKind",
    "active_locations",
    "active_organization_ids",
    "get_location",
    "get_organization",
    "get_user",
    "invite_user",
    "list_locations",
    "names_of",
    "organization_setup",
    "portal_accounts_of",
    "rebind_to_kept_patient",
    "resolve_access_token",
    "resolve_web_session",
]

# Who holds a role (a role's in-app alert reaches each of them).
from clinicdesk.identity.service.users import active_staff_with_role

__all__ += ["active_staff_with_role"]
