"""The clinical use cases, one module per part (STYLE: a service splits by use case)."""
