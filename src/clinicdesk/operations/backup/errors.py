"""What goes wrong in a backup, a restore or a verification, said so a person can act."""

from __future__ import annotations


class BackupError(Exception):
    """The operation stopped; the message says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ArchiveRefused(BackupError):
    """The archive is not one of ours, was altered, or the key does not open it.
    Nothing from it was used."""


class TargetNotEmpty(BackupError):
    """A restore would overwrite a live database or document store (``--force`` allows it)."""
