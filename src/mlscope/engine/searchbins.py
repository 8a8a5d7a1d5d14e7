"""``np.searchsorted(edges, values, side="right")`` for many values and few edges, by table.

Binning ten million scores against a few hundred sorted edges is a binary search per
score: about ten dependent, unpredictable comparisons each, half a second per model at
10M rows (most of the bucket bootstrap's time). Here each value's float64 bits are turned
into an order-preserving 64-bit integer key; the keys from just below the first edge to
the last edge are cut into at most 2**20 equal ranges, and a table says, per range,
the answer at its first and at its last key. The answer is non-decreasing in the key, so
where the two agree (every range without an edge inside) it is the answer of every value
in the range: one table lookup. Only the values in the few ranges that hold an edge
(and those outside the edges' span, which the clipped first and last ranges collect) are
searched. The result is ``searchsorted``'s, element for element (``tests/test_searchbins.py``):
``-0.0`` and ``+0.0`` are equal there, and adjacent keys here, so a range holding both
answers one way only when ``searchsorted`` does. Values with a NaN are searched as they
are.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["EdgeSearch", "Table", "search_right"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
#: The table of :class:`EdgeSearch`: the first key ``lo`` and last key ``hi`` it covers,
#: the ``shift`` that turns ``key − lo`` into a range, each range's answer at its first
#: key, and whether an edge falls inside the range (its values are then searched).
Table = tuple[np.uint64, np.uint64, int, npt.NDArray[np.signedinteger], npt.NDArray[np.bool_]]

# Table entries at most: 2**20 ranges (4 MiB of answers), so the lookups stay in cache.
_TABLE_BITS = 20
# Below this many values the binary search itself is cheaper than building the table.
_TABLE_FROM = 1 << 16
_SIGN = np.uint64(1 << 63)
# Ranges whose answers are found at once while a table is built.
_BUILD_BLOCK = 1 << 16


def _keys(x: FloatArray) -> npt.NDArray[np.uint64]:
    """Order-preserving keys of float64 values: every bit of a negative flipped, only the
    sign of the others (in one fresh array)."""
    bits = np.ascontiguousarray(x, dtype=np.float64).view(np.uint64)
    # Arithmetic shift: all ones for a negative sign, zero otherwise; then the sign bit.
    mask = np.right_shift(bits.view(np.int64), 63).view(np.uint64)
    mask |= _SIGN
    mask ^= bits
    return mask


def _values(keys: npt.NDArray[np.uint64]) -> FloatArray:
    """The float64 values of keys (the inverse of :func:`_keys`)."""
    neg = (keys & _SIGN) == 0
    bits = np.where(neg, ~keys, keys ^ _SIGN)
    return bits.view(np.float64)


class EdgeSearch:
    """``np.searchsorted(edges, values, side="right")`` for any number of calls with the
    same ``edges``: the table is built once (a few tens of milliseconds), on the first call
    with at least ``2**16`` values; smaller calls search directly.

    Parameters
    ----------
    edges
        Sorted float64 edges. Edges that are not finite or not sorted are always searched
        directly (``searchsorted``'s own answer).
    """

    def __init__(self, edges: FloatArray) -> None:
        self.edges = np.asarray(edges, dtype=np.float64)
        e = self.edges
        self.usable = bool(e.size > 0 and e.ndim == 1 and np.isfinite(e).all()
                           and not np.any(e[1:] < e[:-1]))
        self._table: Table | None = None

    def _build(self) -> Table:
        edges = self.edges
        ek = _keys(edges)
        # From the key of the float just below the first edge (its range answers 0 at its
        # first key; below +0.0 that is -5e-324, not -0.0, which equals +0.0): values below
        # the edges are clipped into the first range, values above into the last, and both
        # answer as every value of their range does, or are searched.
        with np.errstate(over="ignore"):  # below -max: -inf, whose key is still in order
            lo = _keys(np.nextafter(edges[:1], -np.inf))[0]
        hi = ek[-1]
        span = int(hi) - int(lo)
        # About 64 ranges per edge (at most 2**20): few ranges hold an edge, and the table
        # of a few hundred edges stays small (32,768 ranges for 512 edges).
        bits = min(_TABLE_BITS, max(10, int(edges.size).bit_length() + 6))
        shift = max(0, span.bit_length() - bits)
        n_ranges = (span >> shift) + 1
        # Answers below 2**31 are held as int32 (half the table's memory).
        at_first: npt.NDArray[np.signedinteger] = np.empty(
            n_ranges, dtype=np.int32 if edges.size < 2**31 - 1 else np.intp)
        ambiguous = np.empty(n_ranges, dtype=np.bool_)
        # Built in blocks of ranges: a few megabytes of temporaries, not tens.
        for r0 in range(0, n_ranges, _BUILD_BLOCK):
            r1 = min(n_ranges, r0 + _BUILD_BLOCK)
            first = lo + (np.arange(r0, r1, dtype=np.uint64) << np.uint64(shift))
            last = np.minimum(first + np.uint64((1 << shift) - 1), hi)
            a = np.searchsorted(edges, _values(first), side="right")
            at_first[r0:r1] = a
            np.not_equal(a, np.searchsorted(edges, _values(last), side="right"),
                         out=ambiguous[r0:r1])
        return lo, hi, shift, at_first, ambiguous

    def table_for(self, values: FloatArray) -> Table | None:
        """The table that answers ``values`` (built on first use), or None where they are
        searched directly: fewer than ``2**16`` values, edges that are not finite or not
        sorted, values not one float64 dimension, or a NaN among them (NaN keys lie
        outside the table)."""
        if (values.size < _TABLE_FROM or not self.usable or values.ndim != 1
                or values.dtype != np.float64 or bool(np.isnan(values).any())):
            return None
        if self._table is None:
            self._table = self._build()
        return self._table

    def __call__(self, values: FloatArray) -> IntArray:
        """How many edges are ``<=`` each of ``values`` (``intp``, the shape of ``values``)."""
        values = np.asarray(values, dtype=np.float64)
        edges = self.edges
        table = self.table_for(values)
        if table is None:
            return np.searchsorted(edges, values, side="right")
        lo, hi, shift, at_first, ambiguous_range = table
        key = _keys(values)
        np.clip(key, lo, hi, out=key)
        key -= lo
        key >>= np.uint64(shift)
        idx = key.view(np.int64)  # below 2**20: the same numbers
        out = at_first[idx].astype(np.intp)  # searchsorted's type
        where = np.flatnonzero(ambiguous_range[idx])
        if where.size:
            out[where] = np.searchsorted(edges, values[where], side="right")
        return out


def search_right(edges: FloatArray, values: FloatArray) -> IntArray:
    """``np.searchsorted(edges, values, side="right")``, element for element.

    Parameters
    ----------
    edges
        Sorted float64 edges, finite.
    values
        float64 values, any number, any order.

    Returns
    -------
    numpy.ndarray
        ``intp``, the shape of ``values``: how many edges are ``<=`` each value.
    """
    return EdgeSearch(edges)(values)
