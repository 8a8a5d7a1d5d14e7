"""NumPy's pairwise summation, cut into blocks: how a sum over a long array can be taken a
block at a time (each block's values made in the processor's cache) and still be the bits
of one ``sum`` over the whole array."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["BLOCK", "Tree", "add_along", "pairwise_blocks"]

# Values per block of a blocked pass: a block's arrays stay in the processor's cache from
# one operation to the next.
BLOCK = 32_768

Tree = int | tuple["Tree", "Tree"]


def pairwise_blocks(m: int, block: int) -> tuple[list[tuple[int, int]], Tree]:
    """How NumPy's pairwise sum of ``m`` contiguous float64 values splits them, down to
    pieces of at most ``block`` values: the pieces ``(start, stop)`` in order, and the
    tree that adds their sums (a leaf is a piece's index).

    NumPy sums a contiguous run of ``n > 128`` values as the sum of its first ``n2 =
    n // 2 − (n // 2) % 8`` values plus the sum of the rest, each summed the same way.
    Summing each piece with NumPy and adding the sums along this tree therefore makes the
    very additions of one ``sum`` over all ``m`` values: the same bits (a piece's sum
    starts from +0, which changes no sum but an all ``-0.0`` one, and the whole sum
    starts from +0 too).
    """
    pieces: list[tuple[int, int]] = []

    def split(lo: int, n: int) -> Tree:
        if n <= max(block, 128):
            pieces.append((lo, lo + n))
            return len(pieces) - 1
        n2 = n // 2
        n2 -= n2 % 8
        return split(lo, n2), split(lo + n2, n - n2)

    return pieces, split(0, m)


def add_along(tree: Tree, parts: Sequence[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The pieces' sums (``parts[i]``: a tuple of sums of piece ``i``) added along ``tree``
    (:func:`pairwise_blocks`), element by element."""
    if isinstance(tree, int):
        return parts[tree]
    left, right = add_along(tree[0], parts), add_along(tree[1], parts)
    return tuple(p + q for p, q in zip(left, right, strict=True))
