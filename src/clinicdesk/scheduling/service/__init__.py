"""Use cases of the scheduling domain; routes (API and web) call these and nothing lower."""
