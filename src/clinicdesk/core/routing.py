"""Routers that tell "not mine" in one step.

FastAPI (0.16x) finds a request's route by asking every router the app includes, in
order, and each of those asks every router and route *it* includes; when it has found
the route, each level on the way down asks its routes again to hand the request on. With
about 650 routes under four levels of routers, a request was matched against some 650
path patterns, one Python call each (a fifth of a small request's CPU).

This ``APIRouter`` keeps FastAPI's behaviour and order unchanged and adds one guard: it
knows every path pattern beneath it, filed by their first literal path segments (up to
three: ``/api/v1/patients``), each file joined into one regular expression, and answers
"no match" at once for a path none of them can match. So a request only walks down the
routers that hold its route. Every router of the app is one of these (the route test
checks); a router or route the guard cannot read (no path pattern) makes its parents
match everything, as before, rather than ever hide a route.

The patterns are read on the first request: routes are all added while the app is built.
For the same reason the router's "routes version" is fixed then: FastAPI recomputes it by
walking every router beneath, on every match at every level, to notice routes added
later (a third of the matching time, none of them ever added).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter as FastAPIRouter
from starlette._utils import get_route_path  # the very path Starlette matches
from starlette.routing import Match
from starlette.types import Scope

_NAMED_GROUP = re.compile(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>")


class APIRouter(FastAPIRouter):
    """FastAPI's router with a one-step "no match" for paths none of its routes can take."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._included: list[tuple[FastAPIRouter, str]] = []
        self._guard: PathGuard | None = None
        self._guard_read: bool | None = None
        self._fixed_version: int | None = None

    def include_router(self, router: FastAPIRouter, *args: Any, **kwargs: Any) -> None:
        # Remembered here because FastAPI keeps an included router behind a private type.
        self._included.append((router, kwargs.get("prefix", "")))
        self._guard_read = self._fixed_version = None  # read again at the next match
        super().include_router(router, *args, **kwargs)

    def _get_routes_version(self, seen: set[int] | None = None) -> int:
        # FastAPI's (private) cache key for what a router includes; see the module's note.
        if self._fixed_version is not None:
            return self._fixed_version
        return super()._get_routes_version(seen)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if not self._guard_read:
            patterns = path_patterns(self)
            self._guard = None if patterns is None else PathGuard(patterns)
            self._fixed_version = super()._get_routes_version()
            self._guard_read = True
        if self._guard is not None and not self._guard.may_match(get_route_path(scope)):
            return Match.NONE, {}
        return super().matches(scope)


def path_patterns(router: FastAPIRouter) -> list[str] | None:
    """The path patterns of every route under ``router``, or None when one has none."""
    included = router._included if isinstance(router, APIRouter) else []
    patterns: list[str] = []
    without = 0
    for route in router.routes:
        regex = getattr(route, "path_regex", None)
        if isinstance(regex, re.Pattern):
            patterns.append(regex.pattern)
        else:
            without += 1
    if without != len(included):  # a route the guard cannot read: match as FastAPI does
        return None
    for child, prefix in included:
        below = path_patterns(child)
        if below is None:
            return None
        patterns.extend(_prefixed(pattern, prefix) for pattern in below)
    return patterns


class PathGuard:
    """Whether any of some path patterns (Starlette's ``^/...$``) can match a path."""

    def __init__(self, patterns: list[str]) -> None:
        files: dict[tuple[str, ...], list[str]] = {}
        for pattern in patterns:
            files.setdefault(literal_segments(pattern), []).append(pattern)
        self._files = {key: _joined(group) for key, group in files.items()}
        self._depths = sorted({len(key) for key in files})

    def may_match(self, path: str) -> bool:
        segments = path[1:].split("/", _DEPTH) if path.startswith("/") else []
        for depth in self._depths:
            if depth > len(segments):
                break
            joined = self._files.get(tuple(segments[:depth]))
            if joined is not None and joined.match(path) is not None:
                return True
        return False


_DEPTH = 3
_REGEX_SYNTAX = frozenset("()[]{}*+?|^$.")


def literal_segments(pattern: str) -> tuple[str, ...]:
    """The leading path segments (up to three) that every path ``pattern`` matches has,
    word for word: ``("api", "v1", "patients")`` for ``^/api/v1/patients/(?P<id>[^/]+)$``.
    """
    rest = pattern.removeprefix("^")
    segments: list[str] = []
    while len(segments) < _DEPTH and rest.startswith("/"):
        end = rest.find("/", 1)
        text = rest[1:] if end == -1 else rest[1:end]
        if end == -1:  # the last segment: literal only up to the end of the path
            if not text.endswith("$") or text.endswith("\\$"):
                break
            text = text[:-1]
        literal = _unescaped(text)
        if literal is None:
            break
        segments.append(literal)
        if end == -1:
            break
        rest = rest[end:]
    return tuple(segments)


def _unescaped(text: str) -> str | None:
    """``text`` as the literal it matches, or None if it is more than a literal."""
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            char = next(chars, "")
            if not char or char.isalnum():  # \d, \w ... are classes, not literals
                return None
        elif char in _REGEX_SYNTAX:
            return None
        out.append(char)
    return "".join(out)


def _prefixed(pattern: str, prefix: str) -> str:
    # The guard matches at the start of the path, with or without a leading "^".
    return "^" + re.escape(prefix) + pattern.removeprefix("^") if prefix else pattern


def _joined(patterns: list[str]) -> re.Pattern[str]:
    # Named groups would clash when joined; the guard only needs to know that one matches.
    return re.compile("|".join(f"(?:{_NAMED_GROUP.sub('(?:', p)})" for p in patterns))
