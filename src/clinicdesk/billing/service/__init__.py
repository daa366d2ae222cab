"""Use cases of billing, one module per part."""
