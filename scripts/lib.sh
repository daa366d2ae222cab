# Shared set-up steps for scripts/demo.sh and scripts/test.sh (sourced, not run).
# Each step installs what is missing and says so; nothing is downloaded except through
# the package managers (Debian's apt, PyPI via uv, the npm registry).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export UV_PYTHON_DOWNLOADS=never   # use the machine's Python 3.11+, never fetch one
export DEBIAN_FRONTEND=noninteractive

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

APT_UPDATED=0
apt_install() {
  # apt_install PACKAGE... : install Debian packages (as root, or through sudo).
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "need root (or sudo) to install: $*"
    sudo="sudo"
  fi
  if [ "$APT_UPDATED" -eq 0 ]; then
    say "apt-get update"
    $sudo apt-get update -qq
    APT_UPDATED=1
  fi
  say "apt-get install $*"
  $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_python() {
  command -v python3 >/dev/null || apt_install python3 python3-venv python3-pip
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "ClinicDesk needs Python 3.11 or newer (found $(python3 --version))"
}

UV=()
ensure_uv() {
  ensure_python
  if command -v uv >/dev/null; then
    UV=(uv)
  else
    if ! python3 -m uv --version >/dev/null 2>&1; then
      say "installing uv from PyPI"
      python3 -m pip install --quiet --user uv 2>/dev/null \
        || python3 -m pip install --quiet uv \
        || python3 -m pip install --quiet --break-system-packages uv
    fi
    UV=(python3 -m uv)
  fi
}

ensure_node() {
  command -v npm >/dev/null || apt_install nodejs npm
}

install_browser_libraries() {
  ensure_node
  say "npm ci (browser libraries: htmx, Pico CSS, Swagger UI, Chart.js)"
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null
}

ensure_pdf_libraries() {
  # WeasyPrint (prescriptions, invoices, receipts as PDF) draws text with Pango and
  # HarfBuzz from Debian, and needs at least one font; Debian's chromium brings them,
  # a server without a browser may not have them.
  local missing=() libs
  libs="$(PATH="$PATH:/sbin:/usr/sbin" ldconfig -p)"
  grep -q 'libpango-1.0.so' <<<"$libs" || missing+=(libpango-1.0-0)
  grep -q 'libpangoft2-1.0.so' <<<"$libs" || missing+=(libpangoft2-1.0-0)
  grep -q 'libharfbuzz-subset.so' <<<"$libs" || missing+=(libharfbuzz-subset0)
  [ -n "$(fc-list 2>/dev/null | head -n 1)" ] || missing+=(fonts-dejavu-core fontconfig)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}
