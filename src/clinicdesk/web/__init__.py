"""The server-rendered web UI: layout, home page and the pages of each domain."""
