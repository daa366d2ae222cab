"""Use cases of the identity domain, one module per area."""
