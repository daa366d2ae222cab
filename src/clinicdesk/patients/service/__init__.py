"""Use cases of the patients domain; routes (API and web) call these and nothing lower."""
