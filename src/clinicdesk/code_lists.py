"""The code lists this installation fills after its migrations, and filling them in a
child process while the server already answers (``core/reference_data.py`` says why)."""

from __future__ import annotations

import subprocess
import sys

from clinicdesk.clinical.reference import DRUG_VOCABULARY
from clinicdesk.core.reference_data import ReferenceList
from clinicdesk.patients.reference import ICD10_CODES

CODE_LISTS: tuple[ReferenceList, ...] = (ICD10_CODES, DRUG_VOCABULARY)

# The CLI command the child runs (``clinicdesk db load-reference-data``).
LOAD_COMMAND = ("db", "load-reference-data")


def load_in_background() -> subprocess.Popen[bytes]:
    """Start ``clinicdesk db load-reference-data`` and return at once. It reads the same
    settings (the environment) as this process, logs what it filled, and fills nothing
    that another process filled first. Ctrl+C reaches it too (same process group): a
    stop halfway rolls the list back, and the next start fills it."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and command, no user input
        [sys.executable, "-m", "clinicdesk", *LOAD_COMMAND], stdin=subprocess.DEVNULL
    )
