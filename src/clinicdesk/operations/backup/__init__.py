"""Backups: ``clinicdesk backup``, ``clinicdesk restore``, ``clinicdesk backup verify``.

One encrypted archive holds a consistent snapshot of the database (SQLite's online backup
API, or pg_dump in custom format from one exported snapshot), every document the snapshot
names (read through the document storage), and a manifest with row counts and checksums.

Parts: ``crypto`` (the authenticated streaming encryption), ``keys`` (which secret),
``archive`` (the tar layout and the manifest), ``sqlite`` and ``postgres`` (snapshot,
install, checks), ``documents``, and the three operations ``create``, ``restore``,
``verify``.
"""

from clinicdesk.operations.backup.archive import ARCHIVE_SUFFIX, Manifest
from clinicdesk.operations.backup.create import BackupResult, create_backup, default_archive_name
from clinicdesk.operations.backup.crypto import BackupSecret
from clinicdesk.operations.backup.documents import Progress
from clinicdesk.operations.backup.errors import ArchiveRefused, BackupError, TargetNotEmpty
from clinicdesk.operations.backup.keys import ResolvedSecret, default_key_path, resolve_secret
from clinicdesk.operations.backup.restore import (
    RestoreTarget,
    restore_backup,
    target_from_settings,
)
from clinicdesk.operations.backup.verify import VerifyReport, verify_backup

__all__ = [
    "ARCHIVE_SUFFIX",
    "ArchiveRefused",
    "BackupError",
    "BackupResult",
    "BackupSecret",
    "Manifest",
    "Progress",
    "ResolvedSecret",
    "RestoreTarget",
    "TargetNotEmpty",
    "VerifyReport",
    "create_backup",
    "default_archive_name",
    "default_key_path",
    "resolve_secret",
    "restore_backup",
    "target_from_settings",
    "verify_backup",
]
