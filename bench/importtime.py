"""`-X importtime` output as a tree and a per-package table (bench.coldstart --importtime)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)\s*$")


@dataclass
class ImportNode:
    name: str
    self_us: int
    cumulative_us: int
    children: list[ImportNode] = field(default_factory=list)


def parse_importtime(stderr: str) -> list[ImportNode]:
    """-X importtime prints post-order: a module's imports precede it, one level deeper."""
    pending: list[tuple[int, ImportNode]] = []
    for line in stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if not match:
            continue
        depth = (len(match.group(3)) - 1) // 2
        node = ImportNode(match.group(4), int(match.group(1)), int(match.group(2)))
        while pending and pending[-1][0] > depth:
            node.children.insert(0, pending.pop()[1])
        pending.append((depth, node))
    return [node for _, node in pending]


def _walk(nodes: list[ImportNode]) -> list[ImportNode]:
    out: list[ImportNode] = []
    for node in nodes:
        out.append(node)
        out.extend(_walk(node.children))
    return out


def importtime_report(roots: list[ImportNode], threshold_ms: float, top: int) -> str:
    lines = [f"import tree (cumulative >= {threshold_ms:.1f} ms; self ms / cumulative ms):"]

    def show(node: ImportNode, depth: int) -> None:
        if node.cumulative_us / 1000 < threshold_ms:
            return
        lines.append(f"  {'  ' * depth}{node.name}  {node.self_us / 1000:.1f} / {node.cumulative_us / 1000:.1f}")
        for child in node.children:
            show(child, depth + 1)

    for root in roots:
        show(root, 0)
    by_package: dict[str, int] = {}
    nodes = _walk(roots)
    for node in nodes:
        package = node.name.split(".")[0]
        by_package[package] = by_package.get(package, 0) + node.self_us
    total = sum(by_package.values())
    lines.append("")
    lines.append(f"self time by top-level package (total {total / 1000:.1f} ms in {len(nodes)} modules):")
    for package, self_us in sorted(by_package.items(), key=lambda kv: -kv[1])[:top]:
        count = sum(1 for n in nodes if n.name.split(".")[0] == package)
        lines.append(f"  {package:<28} {self_us / 1000:7.1f} ms  {count:4d} modules")
    return "\n".join(lines)
