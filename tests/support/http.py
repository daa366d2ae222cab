"""HTTP helpers for tests of the API."""

# ``If-Match: *`` on a change whose test is about something else than versions: the
# version requirement itself is tested in tests/core/test_if_match.py.
ANY_VERSION = {"If-Match": "*"}
