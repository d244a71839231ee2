"""The unknowns of a cell model as named blocks, laid out group by group in one vector.

Groups, in this order in u (the block preconditioner of solver.krylov relies on it):
  potential   one potential per cell (Ohm)
  dynamic     unknowns with a time derivative (stoichiometries, carrier concentrations)
  interface   unknowns that live on interface faces (currents, surface stoichiometries)
  scalar      unknowns of the whole cell (the tab potential)
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np

GROUPS = ("potential", "dynamic", "interface", "scalar")
_EMPTY = slice(0, 0)


@dataclass(frozen=True)
class Block:
    """A named block of unknowns: where it sits in u and what its rows mean."""
    name: str
    size: int
    group: str
    bounded: bool = False          # confined to [0, 1] (stoichiometries)
    unit: str = ""
    describe: Callable[[int], str] | None = None   # local index -> its equation, for messages
    start: int = 0

    @property
    def stop(self) -> int:
        return self.start + self.size

    @property
    def slice(self) -> slice:
        return slice(self.start, self.stop)

    @property
    def indices(self) -> np.ndarray:
        return np.arange(self.start, self.stop)


class Layout:
    """Blocks in group order (the given order within a group), each at its offset."""

    def __init__(self, blocks):
        blocks = list(blocks)
        for block in blocks:
            if block.group not in GROUPS:
                raise ValueError(f"block {block.name!r}: unknown group {block.group!r}")
        ordered = sorted(blocks, key=lambda b: GROUPS.index(b.group))
        self.blocks = {}
        start = 0
        for block in ordered:
            if block.name in self.blocks:
                raise ValueError(f"two blocks named {block.name!r}")
            self.blocks[block.name] = Block(block.name, block.size, block.group, block.bounded,
                                            block.unit, block.describe, start)
            start += block.size
        self.n = start
        self._slices = {name: block.slice for name, block in self.blocks.items()}
        self._groups = {}
        self.bounded = np.zeros(self.n, dtype=bool)
        for block in self.blocks.values():
            self.bounded[block.slice] = block.bounded

    def __getitem__(self, name) -> Block:
        return self.blocks[name]

    def __contains__(self, name) -> bool:
        return name in self.blocks

    def slice(self, name) -> slice:
        """The block's place in u (an empty slice for a block the model does not have)."""
        return self._slices.get(name, _EMPTY)

    def group(self, group) -> slice:
        """The contiguous span of a group's blocks in u."""
        if group not in self._groups:
            self._groups[group] = self._span(group)
        return self._groups[group]

    def _span(self, group) -> slice:
        members = [b for b in self.blocks.values() if b.group == group]
        if not members:
            before = [b.stop for b in self.blocks.values()
                      if GROUPS.index(b.group) < GROUPS.index(group)]
            start = max(before, default=0)
            return slice(start, start)
        return slice(members[0].start, members[-1].stop)

    def block_of(self, index: int) -> Block:
        for block in self.blocks.values():
            if block.start <= index < block.stop:
                return block
        raise IndexError(f"unknown {index} is outside the layout (n = {self.n})")

    def describe(self, index: int) -> str:
        """The equation of row `index`, in words, for messages."""
        block = self.block_of(int(index))
        if block.describe is None:
            return f"{block.name} unknown {index - block.start}"
        return block.describe(int(index) - block.start)
