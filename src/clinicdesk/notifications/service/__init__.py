"""Use cases of notifications: one module per part."""
