"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing and proofs.

Hashing is the RFC 6962 / RFC 9162 SHA-256 scheme:

* leaf hash  = SHA-256(0x00 || entry)
* node hash  = SHA-256(0x01 || left || right)
* empty tree = SHA-256("")

Everything here works on *leaf hashes* except :func:`leaf_hash` itself, so the
callers decide how entries are serialised. The code is pure (no I/O) and
iterative: a verifier streams millions of entries through
:class:`MerkleAccumulator`, and proof generation over ~1M leaves only hashes
the sibling subtrees it needs, level by level, without recursion.

Generation functions raise :class:`ValueError` on impossible arguments.
Verification functions return ``False`` for anything that does not verify
(including out-of-range indices and sizes, as RFC 9162 says "fail the proof
verification"); they only raise for negative sizes, which are programming
errors rather than bad proofs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleAccumulator",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_leaves",
    "subtree_root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_sha256 = hashlib.sha256

EMPTY_ROOT: bytes = _sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    """Hash one log entry into a leaf (RFC 9162 §2.1.1)."""
    return _sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash two child nodes into their parent (RFC 9162 §2.1.1)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _split_point(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_non_negative(**values: int) -> None:
    for name, value in values.items():
        if value < 0:
            raise ValueError(f"{name} must be non-negative, got {value}")


class MerkleAccumulator:
    """Streaming Merkle tree builder over leaf hashes (a compact range from 0).

    Keeps one hash per perfect subtree in the binary decomposition of the
    size, largest first, so memory is O(log n), ``append`` does amortised
    O(1) hashing and ``root`` costs O(log n) at any point.
    """

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._size = 0
        # Roots of the perfect subtrees, left to right; their sizes are the
        # set bits of self._size from most to least significant.
        self._stack: list[bytes] = []

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash (not the raw entry: see :func:`leaf_hash`)."""
        if len(leaf) != HASH_SIZE:
            # Passing an entry instead of its leaf hash is the likely mistake.
            raise ValueError(f"leaf must be a {HASH_SIZE}-byte leaf hash, got {len(leaf)} bytes")
        stack = self._stack
        n = self._size
        self._size = n + 1
        # Each trailing set bit of the old size is a perfect subtree of the
        # same height as the carry we are building: merge, like binary +1.
        while n & 1:
            leaf = _sha256(_NODE_PREFIX + stack.pop() + leaf).digest()
            n >>= 1
        stack.append(leaf)

    def state(self) -> list[bytes]:
        """The compact range (perfect subtree roots, left to right)."""
        return list(self._stack)

    @classmethod
    def from_state(cls, size: int, stack: Sequence[bytes]) -> MerkleAccumulator:
        """Resume from a saved compact range, so a long ledger is not rehashed."""
        _check_non_negative(size=size)
        if len(stack) != bin(size).count("1") or any(len(h) != HASH_SIZE for h in stack):
            raise ValueError("compact range does not match the tree size")
        acc = cls()
        acc._size = size
        acc._stack = list(stack)
        return acc

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append several leaf hashes in order (same result as appending them
        one by one, in fewer Python steps: each run of leaves that fills a
        whole aligned perfect subtree is hashed level by level, then joined
        to the stack like a single node of that height)."""
        leaves = leaves if isinstance(leaves, list) else list(leaves)
        for leaf in leaves:
            if len(leaf) != HASH_SIZE:
                raise ValueError(f"leaf must be a {HASH_SIZE}-byte leaf hash, got {len(leaf)} bytes")
        sha = _sha256
        prefix = _NODE_PREFIX
        stack = self._stack
        n = self._size
        i = 0
        total = len(leaves)
        while i < total:
            # The largest perfect subtree that starts at n (n is a multiple
            # of its width) and fits in what is left.
            height = (total - i).bit_length() - 1
            if n:
                height = min(height, (n & -n).bit_length() - 1)
            width = 1 << height
            if width == 1:
                node = leaves[i]
            else:
                level = leaves[i : i + width]
                while len(level) > 1:
                    pairs = iter(level)
                    level = [sha(prefix + left + right).digest() for left, right in zip(pairs, pairs, strict=False)]
                node = level[0]
            # Binary +width: merge with the stack's subtrees of equal height.
            carry = n >> height
            while carry & 1:
                node = sha(prefix + stack.pop() + node).digest()
                carry >>= 1
            stack.append(node)
            n += width
            i += width
        self._size = n

    def root(self) -> bytes:
        """Root hash of the tree of all leaves appended so far."""
        stack = self._stack
        if not stack:
            return EMPTY_ROOT
        # RFC 9162 splits at the largest power of two, i.e. the leftmost
        # perfect subtree, so the root is a right fold of the stack.
        h = stack[-1]
        for i in range(len(stack) - 2, -1, -1):
            h = _sha256(_NODE_PREFIX + stack[i] + h).digest()
        return h

    def __repr__(self) -> str:
        return f"MerkleAccumulator(size={self._size})"


def subtree_root(leaves: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH(D[start:end]) over leaf hashes, computed level by level.

    Pairing neighbours and carrying an odd last node up unchanged gives the
    same tree as RFC 9162's "split at the largest power of two" recursion.
    """
    if not 0 <= start <= end <= len(leaves):
        raise ValueError(f"invalid leaf range [{start}, {end}) for {len(leaves)} leaves")
    if start == end:
        return EMPTY_ROOT
    level = list(leaves[start:end])
    sha = _sha256
    prefix = _NODE_PREFIX
    while len(level) > 1:
        nxt = [sha(prefix + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) & 1:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def root_from_leaves(leaves: Sequence[bytes]) -> bytes:
    """MTH of a whole list of leaf hashes (EMPTY_ROOT for no leaves)."""
    return subtree_root(leaves, 0, len(leaves))


def _check_tree_size(leaves: Sequence[bytes], tree_size: int, what: str) -> None:
    if tree_size > len(leaves):
        raise ValueError(f"{what} {tree_size} exceeds the {len(leaves)} leaves given")


def inclusion_proof(leaves: Sequence[bytes], index: int, tree_size: int) -> list[bytes]:
    """Audit path PATH(index, D[0:tree_size]) (RFC 9162 §2.1.3.1).

    ``leaves`` are leaf hashes; only the first ``tree_size`` are used.
    The path is ordered from the leaf's sibling up to the root's child.
    """
    _check_non_negative(index=index, tree_size=tree_size)
    if index >= tree_size:
        raise ValueError(f"index {index} is out of range for tree size {tree_size}")
    _check_tree_size(leaves, tree_size, "tree_size")
    # Walk down from the root, collecting the sibling of each subtree that
    # holds the leaf; the recursion emits them bottom-up, hence the reverse.
    path: list[bytes] = []
    lo, hi = 0, tree_size
    while hi - lo > 1:
        mid = lo + _split_point(hi - lo)
        if index < mid:
            path.append(subtree_root(leaves, mid, hi))
            hi = mid
        else:
            path.append(subtree_root(leaves, lo, mid))
            lo = mid
    path.reverse()
    return path


def consistency_proof(leaves: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) = SUBPROOF(m, D[n], true) (RFC 9162 §2.1.4.1).

    Returns an empty proof when ``old_size`` is 0 or equals ``new_size``:
    those trees are consistent by definition and nothing needs proving.
    """
    _check_non_negative(old_size=old_size, new_size=new_size)
    if old_size > new_size:
        raise ValueError(f"old_size {old_size} is larger than new_size {new_size}")
    _check_tree_size(leaves, new_size, "new_size")
    if old_size == 0 or old_size == new_size:
        return []
    # Iterative SUBPROOF: `m` is the old size relative to the current
    # subtree [lo, hi); `complete` is the RFC's flag b (the current subtree
    # root is the old tree's root, which the verifier already knows).
    path: list[bytes] = []
    lo, hi, m, complete = 0, new_size, old_size, True
    while m != hi - lo:
        k = _split_point(hi - lo)
        if m <= k:
            path.append(subtree_root(leaves, lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree_root(leaves, lo, lo + k))
            lo += k
            m -= k
            complete = False
    if not complete:
        path.append(subtree_root(leaves, lo, hi))
    path.reverse()
    return path


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check an audit path (RFC 9162 §2.1.3.2)."""
    _check_non_negative(index=index, tree_size=tree_size)
    # Hashes of the wrong length can never be part of a valid SHA-256 tree;
    # rejecting them also stops b"" == b"" style accidents on 1-leaf trees.
    if len(leaf) != HASH_SIZE or len(root) != HASH_SIZE:
        return False
    if any(len(p) != HASH_SIZE for p in proof):
        return False
    # 1. leaf_index >= tree_size fails.
    if index >= tree_size:
        return False
    # 2./3.
    fn, sn, r = index, tree_size - 1, leaf
    # 4.
    for p in proof:
        # 4a.
        if sn == 0:
            return False
        # 4b.
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        # 4c.
        fn >>= 1
        sn >>= 1
    # 5.
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Check that the tree (new_size, new_root) extends (old_size, old_root).

    Implements RFC 9162 §2.1.4.2 for 0 < old_size < new_size. The trivial
    cases take an empty proof: equal sizes need equal roots, and old_size 0
    needs old_root to be the empty-tree root (consistent with every tree).
    """
    _check_non_negative(old_size=old_size, new_size=new_size)
    if len(old_root) != HASH_SIZE or len(new_root) != HASH_SIZE:
        return False
    if any(len(p) != HASH_SIZE for p in proof):
        return False
    if old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT

    # 1. An empty path fails.
    if not proof:
        return False
    path = list(proof)
    # 2. If first is an exact power of 2, prepend first_hash.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # 3.
    fn, sn = old_size - 1, new_size - 1
    # 4.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = path[0]
    # 6.
    for c in path[1:]:
        # 6a.
        if sn == 0:
            return False
        # 6b.
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        # 6c.
        fn >>= 1
        sn >>= 1
    # 7.
    return fr == old_root and sr == new_root and sn == 0
