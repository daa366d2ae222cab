#!/usr/bin/env bash
# Set up everything the test suite needs on this machine and run all of it: lint, types,
# import layering, and pytest on SQLite, on a throwaway PostgreSQL server and in headless
# Chromium. Arguments go to pytest, e.g. `bash scripts/test.sh -k health`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

started=$(date +%s)

# Servers (PostgreSQL, Redis) and the browser come from Debian's packages.
missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v redis-server >/dev/null || missing+=(redis-server)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

ensure_uv
install_browser_libraries
ensure_pdf_libraries
say "uv sync (Python packages from uv.lock, with the dev tools)"
"${UV[@]}" sync --locked --quiet

say "ruff"
"${UV[@]}" run --locked ruff check .
"${UV[@]}" run --locked ruff format --check .
say "mypy (strict)"
"${UV[@]}" run --locked mypy
say "import-linter (layering)"
"${UV[@]}" run --locked lint-imports
# One worker per core (pytest-xdist): each starts its own PostgreSQL, Redis and browser,
# so the workers share nothing but the machine. CLINICDESK_TEST_WORKERS=0 runs in one process.
say "pytest"
"${UV[@]}" run --locked pytest -v -n "${CLINICDESK_TEST_WORKERS:-auto}" "$@"

say "all checks passed in $(( $(date +%s) - started )) s"
