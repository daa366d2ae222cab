"""The pure rules of notifications (no I/O): when a message is due, how a template is
rendered, what a reply means."""
