"""Every route an application serves, with its full path (through included routers)."""

from __future__ import annotations

from typing import Any, Iterator


def walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str, Any]]:
    """(method, path, route) for each route, HEAD left out."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from walk(inner.routes, prefix + route.include_context.prefix)
            continue
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                yield method, prefix + route.path, route
        if getattr(route, "methods", None) is None and hasattr(route, "path"):
            yield "MOUNT", prefix + route.path, route
