"""Operator tools that act on a whole installation: backups, restores, verification.

They sit above every domain (they read the whole schema) and below the app and the CLI, so
the job runner can schedule them later.
"""
