"""The buying committee drawn as a graph: an SVG made on the server, no script needed.

People who decide or sign are on the top row, those who champion, influence, gatekeep or block
in the middle, users at the bottom. The fill says the stance, the border's weight the
influence; a dashed border marks someone nobody has spoken to. Lines are how they stand to each
other. The page shows the same facts as a table beside it, for screen readers and for print.
"""

from __future__ import annotations

import dataclasses
import math

from leadline.journeys.committee import Committee, Member
from leadline.journeys.models import Influence, LinkKind, Part

ROWS = (
    (Part.DECIDES, Part.SIGNS),
    (Part.CHAMPIONS, Part.INFLUENCES, Part.GATEKEEPS, Part.BLOCKS),
    (Part.USES,),
)
NODE_W, NODE_H, GAP_X, GAP_Y, MARGIN = 170, 58, 30, 70, 20
STROKE: dict[str, int] = {Influence.HIGH: 4, Influence.MEDIUM: 2, Influence.LOW: 1}


@dataclasses.dataclass(frozen=True)
class Node:
    member: Member
    x: int
    y: int

    @property
    def cx(self) -> float:
        return self.x + NODE_W / 2

    @property
    def cy(self) -> float:
        return self.y + NODE_H / 2

    @property
    def stroke(self) -> int:
        return STROKE.get(str(self.member.stakeholder.influence), 2)


@dataclasses.dataclass(frozen=True)
class Edge:
    kind: str
    label: str
    x1: float
    y1: float
    x2: float
    y2: float


@dataclasses.dataclass(frozen=True)
class Graph:
    width: int
    height: int
    nodes: list[Node]
    edges: list[Edge]
    description: str


def _border_point(node: Node, toward: Node) -> tuple[float, float]:
    """Where the line from `node`'s centre toward `toward` leaves its box."""
    dx, dy = toward.cx - node.cx, toward.cy - node.cy
    if dx == 0 and dy == 0:
        return node.cx, node.cy
    scale = min(
        (NODE_W / 2) / abs(dx) if dx else math.inf,
        (NODE_H / 2) / abs(dy) if dy else math.inf,
    )
    return node.cx + dx * scale, node.cy + dy * scale


def committee_graph(committee: Committee) -> Graph:
    rows = [[m for m in committee.members if m.stakeholder.part in parts] for parts in ROWS]
    rows = [row for row in rows if row]
    widest = max((len(row) for row in rows), default=1)
    width = MARGIN * 2 + widest * NODE_W + (widest - 1) * GAP_X
    nodes: list[Node] = []
    for r, row in enumerate(rows):
        row_width = len(row) * NODE_W + (len(row) - 1) * GAP_X
        left = (width - row_width) // 2
        for i, member in enumerate(row):
            nodes.append(Node(member, left + i * (NODE_W + GAP_X), MARGIN + r * (NODE_H + GAP_Y)))
    height = MARGIN * 2 + len(rows) * NODE_H + max(len(rows) - 1, 0) * GAP_Y
    by_id = {n.member.stakeholder.pk: n for n in nodes}
    edges = []
    for link in committee.links:
        source, target = by_id.get(link.source_id), by_id.get(link.target_id)
        if source is None or target is None:
            continue
        x1, y1 = _border_point(source, target)
        x2, y2 = _border_point(target, source)
        label = f"{link.source.person} {LinkKind(link.kind).label} {link.target.person}"
        edges.append(Edge(link.kind, label, x1, y1, x2, y2))
    described = "; ".join(
        f"{m.stakeholder.person}: {m.stakeholder.get_part_display().lower()}, "
        f"{m.stakeholder.get_stance_display().lower()}, "
        f"{m.stakeholder.get_influence_display().lower()} influence"
        + ("" if m.spoken_to else ", not spoken to")
        for m in committee.members
    )
    return Graph(width, max(height, NODE_H + 2 * MARGIN), nodes, edges, described)
