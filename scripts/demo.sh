#!/usr/bin/env bash
# Set up everything ClinicDesk needs on this machine and start the demo clinic
# (embedded SQLite, demo data, one process). Arguments go to `clinicdesk demo`,
# e.g. `bash scripts/demo.sh --port 8080`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_uv
install_browser_libraries
ensure_pdf_libraries
say "uv sync (Python packages from uv.lock)"
"${UV[@]}" sync --locked --no-dev --quiet
exec "${UV[@]}" run --locked --no-dev clinicdesk demo "$@"
