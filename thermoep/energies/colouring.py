"""Proper colourings of interaction graphs: nodes of one colour never interact.

Block Gibbs updates one colour at a time, every unit of it in parallel, which is exact when the
units of a colour are conditionally independent given the rest. For the layer graph of a layered
network the colouring is the even/odd split of the layers; for the nearest-neighbour graph of a
lattice it is the checkerboard. A bipartite graph gets its 2-colouring (found by breadth-first
search from the lowest node, so colour 0 holds node 0); any other graph a greedy first-fit
colouring in node order (a proper colouring, not always a minimal one).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
import torch


def colour(neighbours: Sequence[set[int]]) -> list[int]:
    """A proper colouring of the graph given as one neighbour set per node."""
    n = len(neighbours)
    colours = [-1] * n
    bipartite = True
    for root in range(n):
        if colours[root] >= 0:
            continue
        colours[root] = 0
        queue = deque([root])
        while queue and bipartite:
            u = queue.popleft()
            for v in neighbours[u]:
                if colours[v] < 0:
                    colours[v] = 1 - colours[u]
                    queue.append(v)
                elif colours[v] == colours[u]:
                    bipartite = False
                    break
        if not bipartite:
            break
    if bipartite:
        return colours
    colours = [-1] * n
    for u in range(n):
        taken = {colours[v] for v in neighbours[u] if colours[v] >= 0}
        c = 0
        while c in taken:
            c += 1
        colours[u] = c
    return colours


def colour_mask(mask: torch.Tensor) -> torch.Tensor:
    """Colour of every unit ``[n]`` for a symmetric boolean coupling mask ``[n, n]``."""
    m = mask.detach().cpu().numpy().astype(bool)
    n = m.shape[0]
    rows, cols = np.nonzero(m)
    neighbours: list[set[int]] = [set() for _ in range(n)]
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        if r != c:
            neighbours[r].add(c)
            neighbours[c].add(r)
    return torch.tensor(colour(neighbours), dtype=torch.long)


__all__ = ["colour", "colour_mask"]
