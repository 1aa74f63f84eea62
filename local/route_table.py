"""API Gateway resource matching over the one route table in core.routes.

The REST API picks the most literal resource for a path (literal segments beat
`{param}`, which beats a greedy `{proxy+}`); the gateway must pick the same one
so a handler sees the same `resource` and path parameters locally as deployed.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote

from core.routes import Route


class RouteTable:
    """API Gateway resources: a path template owns methods; the most literal template wins."""

    def __init__(self, routes: Iterable[Route]):
        self.by_resource: dict[str, list[Route]] = {}
        for route in routes:
            self.by_resource.setdefault(route.path, []).append(route)

    @staticmethod
    def _bind(template: str, segments: list[str]) -> tuple[tuple[int, ...], dict[str, str]] | None:
        parts = template.split("/")
        rank: list[int] = []
        params: dict[str, str] = {}
        for i, part in enumerate(parts):
            if part.startswith("{") and part.endswith("+}"):  # greedy {proxy+}
                rest = segments[i:]
                if not rest or not rest[0]:
                    return None
                params[part[1:-2]] = unquote("/".join(rest), errors="replace")
                return (*rank, 2), params
            if i >= len(segments):
                return None
            if part.startswith("{") and part.endswith("}"):
                if not segments[i]:
                    return None
                params[part[1:-1]] = unquote(segments[i], errors="replace")
                rank.append(1)
            elif part == segments[i]:
                rank.append(0)
            else:
                return None
        return (tuple(rank), params) if len(parts) == len(segments) else None

    def match(self, raw_path: str) -> tuple[str, dict[str, str]] | None:
        """(resource template, decoded path parameters) for a raw, still %-encoded path."""
        segments = raw_path.split("/")
        best: tuple[tuple[int, ...], str, dict[str, str]] | None = None
        for template in self.by_resource:
            bound = self._bind(template, segments)
            if bound and (best is None or bound[0] < best[0]):
                best = (bound[0], template, bound[1])
        return (best[1], best[2]) if best else None
