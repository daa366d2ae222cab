"""Browser libraries from the npm registry, served as static files (no build step).

``package.json`` pins them; ``npm ci`` installs them into ``node_modules``. Only the
distribution folders listed here are served, under ``/static/vendor/<name>/``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

# URL name -> folder inside node_modules
VENDOR_DIRS: dict[str, str] = {
    "htmx": "htmx.org/dist",
    "pico": "@picocss/pico/css",
    "swagger-ui": "swagger-ui-dist",
    "event-calendar": "@event-calendar/build/dist",
    "chart.js": "chart.js/dist",
}


class BrowserAssetsMissing(RuntimeError):
    pass


def find_node_modules(configured: Path | None) -> Path:
    """``configured`` (CLINICDESK_ASSETS_DIR), else ``node_modules`` in the source checkout
    or the current directory."""
    package_dir = Path(__file__).resolve().parents[1]
    candidates = (
        [configured]
        if configured is not None
        else [package_dir.parents[1] / "node_modules", Path.cwd() / "node_modules"]
    )
    for candidate in candidates:
        if all((candidate / sub).is_dir() for sub in VENDOR_DIRS.values()):
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise BrowserAssetsMissing(
        f"ClinicDesk's browser libraries were not found (looked in {looked}). "
        "Run `npm ci` in the ClinicDesk directory, or set CLINICDESK_ASSETS_DIR to the "
        "node_modules folder that has them."
    )


def mount_static(app: FastAPI, *, own_static: Path, node_modules: Path) -> None:
    for name, sub in VENDOR_DIRS.items():
        app.mount(
            f"/static/vendor/{name}",
            StaticFiles(directory=node_modules / sub),
            name=f"vendor-{name}",
        )
    app.mount("/static", StaticFiles(directory=own_static), name="static")
