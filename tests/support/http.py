"""HTTP helpers for tests of the API and the pages."""

import re

# ``If-Match: *`` on a change whose test is about something else than versions: the
# version requirement itself is tested in tests/core/test_if_match.py.
ANY_VERSION = {"If-Match": "*"}


def version_on(page_html: str) -> str:
    """The ``version`` a page's form carries (the version of the record it was built from)."""
    found = re.search(r'name="version" value="(\d+)"', page_html)
    assert found, "the page's form carries no version"
    return found.group(1)
