"""The audit trail: append-only, hash-chained, written in the transaction of the change."""
