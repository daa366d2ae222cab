"""Request and response shapes of the clinical API, one module per part."""
