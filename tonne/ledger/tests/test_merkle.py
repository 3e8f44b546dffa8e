"""Tests for tonne.ledger.merkle (RFC 9162 Merkle trees).

Known answers come from github.com/transparency-dev/merkle (the successor of
the certificate-transparency-go Merkle code), never from this implementation:

* rfc6962/rfc6962_test.go   hasher vectors
* testonly/constants.go     LeafInputs, NodeHashes, RootHashes
* proof/verify_test.go      inclusionProofs, consistencyProofs and the
                            corruptInclusionProof / corruptConsistencyProof probes
* proof/proof_test.go       node ids of inclusion / consistency proofs, here
                            resolved through NodeHashes (cases without rehashing)

The property tests compare against the naive recursive definitions written
out below straight from the RFC text, using hashlib directly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tonne.ledger.merkle import (
    EMPTY_ROOT,
    MerkleAccumulator,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaves,
    subtree_root,
    verify_consistency,
    verify_inclusion,
)


def h(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text)


# --- transparency-dev/merkle testonly/constants.go -------------------------

LEAF_INPUTS = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]

# NODE_HASHES[level][index]: perfect subtrees of the 8-leaf tree.
NODE_HASHES = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [
        h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
    ],
]

# ROOT_HASHES[size] for size 0..8.
ROOT_HASHES = [
    h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

# --- transparency-dev/merkle proof/verify_test.go ---------------------------

SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")

# (1-based leaf number, tree size, proof), exactly as published.
INCLUSION_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (3, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        2,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]

CONSISTENCY_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

# --- transparency-dev/merkle proof/proof_test.go ----------------------------
# Node ids (level, index) of proofs, for the cases that need no rehashing.

INCLUSION_NODE_IDS = [
    (1, 0, []),
    (2, 0, [(0, 1)]),
    (2, 1, [(0, 0)]),
    (3, 1, [(0, 0), (0, 2)]),
    (7, 4, [(0, 5), (0, 6), (2, 0)]),
    (7, 5, [(0, 4), (0, 6), (2, 0)]),
    (7, 6, [(1, 2), (2, 0)]),
    (4, 2, [(0, 3), (1, 0)]),
    (5, 3, [(0, 2), (1, 0), (0, 4)]),
    (6, 3, [(0, 2), (1, 0), (1, 2)]),
    (6, 4, [(0, 5), (2, 0)]),
]

CONSISTENCY_NODE_IDS = [
    (1, 2, [(0, 1)]),
    (1, 4, [(0, 1), (1, 1)]),
    (1, 6, [(0, 1), (1, 1), (1, 2)]),
    (2, 3, [(0, 2)]),
    (2, 8, [(1, 1), (2, 1)]),
    (5, 7, [(0, 4), (0, 5), (0, 6), (2, 0)]),
    (6, 7, [(1, 2), (0, 6), (2, 0)]),
    (7, 8, [(0, 6), (0, 7), (1, 2), (2, 0)]),
    (1, 1, []),
    (2, 2, []),
    (3, 3, []),
    (4, 4, []),
    (5, 5, []),
    (7, 7, []),
    (8, 8, []),
    (2, 4, [(1, 1)]),
    (3, 5, [(0, 2), (0, 3), (1, 0), (0, 4)]),
    (3, 6, [(0, 2), (0, 3), (1, 0), (1, 2)]),
    (4, 6, [(1, 2)]),
]

LEAVES = [leaf_hash(d) for d in LEAF_INPUTS]


# --- naive references, straight from the RFC text ---------------------------


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(entries: Sequence[bytes]) -> bytes:
    """MTH over raw entries (RFC 9162 §2.1.1), recursive."""
    n = len(entries)
    if n == 0:
        return _sha(b"")
    if n == 1:
        return _sha(b"\x00" + entries[0])
    k = _k(n)
    return _sha(b"\x01" + ref_mth(entries[:k]) + ref_mth(entries[k:]))


def ref_path(m: int, entries: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) (RFC 9162 §2.1.3.1), recursive."""
    n = len(entries)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return ref_path(m, entries[:k]) + [ref_mth(entries[k:])]
    return ref_path(m - k, entries[k:]) + [ref_mth(entries[:k])]


def ref_subproof(m: int, entries: Sequence[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) (RFC 9162 §2.1.4.1), recursive."""
    n = len(entries)
    if m == n:
        return [] if b else [ref_mth(entries)]
    k = _k(n)
    if m <= k:
        return ref_subproof(m, entries[:k], b) + [ref_mth(entries[k:])]
    return ref_subproof(m - k, entries[k:], False) + [ref_mth(entries[:k])]


def path_shape(m: int, n: int) -> list[bool]:
    """Side of each sibling in PATH(m, D[n]), bottom up (True = on the right)."""
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return path_shape(m, k) + [True]
    return path_shape(m - k, n - k) + [False]


def verifies(check: Callable[[], bool]) -> bool:
    """A verification that raises ValueError (negative sizes) did not verify."""
    try:
        return check()
    except ValueError:
        return False


def flip(data: bytes, pos: int = 0, mask: int = 1) -> bytes:
    out = bytearray(data)
    out[pos % len(out)] ^= mask
    return bytes(out)


# --- known-answer tests -----------------------------------------------------


def test_hasher_vectors() -> None:
    # transparency-dev/merkle rfc6962/rfc6962_test.go
    assert EMPTY_ROOT == h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert leaf_hash(b"") == h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    assert leaf_hash(b"L123456") == h(
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    assert node_hash(b"N123", b"N456") == h(
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


def test_leaf_hashes_match_published_level_zero() -> None:
    assert LEAVES == NODE_HASHES[0]


@pytest.mark.parametrize("size", range(9))
def test_root_hashes(size: int) -> None:
    assert root_from_leaves(LEAVES[:size]) == ROOT_HASHES[size]
    acc = MerkleAccumulator()
    for leaf in LEAVES[:size]:
        acc.append(leaf)
    assert acc.size == size
    assert acc.root() == ROOT_HASHES[size]


def test_accumulator_root_at_every_size_while_streaming() -> None:
    acc = MerkleAccumulator()
    assert acc.root() == ROOT_HASHES[0]
    for size, leaf in enumerate(LEAVES, start=1):
        acc.append(leaf)
        assert acc.root() == ROOT_HASHES[size]
        assert acc.root() == ROOT_HASHES[size]  # root() does not disturb state


def test_node_hashes_are_perfect_subtree_roots() -> None:
    for level, row in enumerate(NODE_HASHES):
        width = 1 << level
        for index, expected in enumerate(row):
            assert subtree_root(LEAVES, index * width, (index + 1) * width) == expected


@pytest.mark.parametrize(("leaf_number", "size", "proof"), INCLUSION_VECTORS)
def test_inclusion_vectors(leaf_number: int, size: int, proof: list[bytes]) -> None:
    index = leaf_number - 1
    root = ROOT_HASHES[size]
    assert inclusion_proof(LEAVES, index, size) == proof
    assert verify_inclusion(LEAVES[index], index, size, proof, root)


@pytest.mark.parametrize(("leaf_number", "size", "proof"), INCLUSION_VECTORS)
def test_inclusion_vectors_corrupted(leaf_number: int, size: int, proof: list[bytes]) -> None:
    # The probes of corruptInclusionProof in verify_test.go.
    index, root, leaf = leaf_number - 1, ROOT_HASHES[size], LEAVES[leaf_number - 1]
    probes: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (index - 1, size, root, leaf, proof),
        (index + 1, size, root, leaf, proof),
        (index ^ 2, size, root, leaf, proof),
        (index, size * 2, root, leaf, proof),
        (index, size // 2, root, leaf, proof),
        (index, size, root, b"WrongLeaf", proof),
        (index, size, EMPTY_ROOT, leaf, proof),
        (index, size, SOME_HASH, leaf, proof),
        (index, size, root, leaf, [*proof, b""]),
        (index, size, root, leaf, [*proof, root]),
        (index, size, root, leaf, [b"", *proof]),
        (index, size, root, leaf, [root, *proof]),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = flip(wrong[i], 0, 8)
        probes.append((index, size, root, leaf, wrong))
    if proof:
        probes.append((index, size, root, leaf, proof[:-1]))
    if len(proof) > 1:
        probes.append((index, size, root, leaf, [proof[0], SOME_HASH, *proof[1:]]))
    for p_index, p_size, p_root, p_leaf, p_proof in probes:
        assert not verifies(
            lambda: verify_inclusion(p_leaf, p_index, p_size, p_proof, p_root)  # noqa: B023
        ), (p_index, p_size)


def test_inclusion_single_entry() -> None:
    # TestVerifyInclusionSingleEntry: wrong hash sizes never verify.
    data_hash = leaf_hash(b"data")
    assert verify_inclusion(data_hash, 0, 1, [], data_hash)
    assert not verify_inclusion(b"", 0, 1, [], data_hash)
    assert not verify_inclusion(data_hash, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], b"")


@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
def test_inclusion_bad_probes(index: int, size: int) -> None:
    # TestVerifyInclusion probes in verify_test.go.
    assert not verify_inclusion(SOME_HASH, index, size, [], b"")
    assert not verify_inclusion(b"", index, size, [], EMPTY_ROOT)
    assert not verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)


@pytest.mark.parametrize(("size", "index", "node_ids"), INCLUSION_NODE_IDS)
def test_inclusion_node_ids(size: int, index: int, node_ids: list[tuple[int, int]]) -> None:
    expected = [NODE_HASHES[level][i] for level, i in node_ids]
    assert inclusion_proof(LEAVES, index, size) == expected
    assert verify_inclusion(LEAVES[index], index, size, expected, ROOT_HASHES[size])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS)
def test_consistency_vectors(old: int, new: int, proof: list[bytes]) -> None:
    assert consistency_proof(LEAVES, old, new) == proof
    assert verify_consistency(old, new, ROOT_HASHES[old], ROOT_HASHES[new], proof)


@pytest.mark.parametrize(("old", "new", "proof"), [v for v in CONSISTENCY_VECTORS if v[2]])
def test_consistency_vectors_corrupted(old: int, new: int, proof: list[bytes]) -> None:
    # The probes of corruptConsistencyProof in verify_test.go.
    r1, r2 = ROOT_HASHES[old], ROOT_HASHES[new]
    probes: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (old - 1, new, r1, r2, proof),
        (old + 1, new, r1, r2, proof),
        (old ^ 2, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof),
        (old, new // 2, r1, r2, proof),
        (old, new, b"WrongRoot", r2, proof),
        (old, new, r1, b"WrongRoot", proof),
        (old, new, r2, r1, proof),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*proof, b""]),
        (old, new, r1, r2, [*proof, r1]),
        (old, new, r1, r2, [*proof, r2]),
        (old, new, r1, r2, [b"", *proof]),
        (old, new, r1, r2, [r1, *proof]),
        (old, new, r1, r2, [r2, *proof]),
        (old, new, r1, r2, [proof[0], *proof]),
        (old, new, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = flip(wrong[i], 0, 16)
        probes.append((old, new, r1, r2, wrong))
    for p_old, p_new, p_r1, p_r2, p_proof in probes:
        assert not verifies(
            lambda: verify_consistency(p_old, p_new, p_r1, p_r2, p_proof)  # noqa: B023
        ), (p_old, p_new)


@pytest.mark.parametrize(("old", "new", "node_ids"), CONSISTENCY_NODE_IDS)
def test_consistency_node_ids(old: int, new: int, node_ids: list[tuple[int, int]]) -> None:
    expected = [NODE_HASHES[level][i] for level, i in node_ids]
    assert consistency_proof(LEAVES, old, new) == expected
    assert verify_consistency(old, new, ROOT_HASHES[old], ROOT_HASHES[new], expected)


def test_consistency_trivial_cases() -> None:
    r3, r5 = ROOT_HASHES[3], ROOT_HASHES[5]
    # Equal sizes: equal roots and an empty proof.
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(3, 3, r3, r3, [])
    assert not verify_consistency(3, 3, r3, r5, [])
    assert not verify_consistency(3, 3, r3, r3, [EMPTY_ROOT])
    # The empty tree is consistent with everything, with an empty proof.
    assert verify_consistency(0, 5, EMPTY_ROOT, r5, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, r5, [EMPTY_ROOT])
    assert not verify_consistency(0, 5, r3, r5, [])  # claimed size-0 root is wrong
    # Time travel and empty proofs for real growth fail.
    assert not verify_consistency(5, 3, r5, r3, [])
    assert not verify_consistency(3, 5, r3, r5, [])
    # Placeholder roots of the wrong length never verify.
    assert not verify_consistency(1, 1, b"don't care", b"don't care", [])


def test_consistency_proof_trivial_cases_are_empty() -> None:
    assert consistency_proof(LEAVES, 0, 0) == []
    assert consistency_proof(LEAVES, 0, 8) == []
    assert consistency_proof(LEAVES, 8, 8) == []


# --- argument validation ----------------------------------------------------


def test_invalid_arguments_raise() -> None:
    with pytest.raises(ValueError, match="out of range"):
        inclusion_proof(LEAVES, 8, 8)
    with pytest.raises(ValueError, match="out of range"):
        inclusion_proof(LEAVES, 0, 0)
    with pytest.raises(ValueError, match="non-negative"):
        inclusion_proof(LEAVES, -1, 8)
    with pytest.raises(ValueError, match="exceeds"):
        inclusion_proof(LEAVES, 0, 9)
    with pytest.raises(ValueError, match="larger than"):
        consistency_proof(LEAVES, 5, 3)
    with pytest.raises(ValueError, match="non-negative"):
        consistency_proof(LEAVES, -1, 3)
    with pytest.raises(ValueError, match="exceeds"):
        consistency_proof(LEAVES, 3, 9)
    with pytest.raises(ValueError, match="non-negative"):
        verify_inclusion(LEAVES[0], -1, 8, [], ROOT_HASHES[8])
    with pytest.raises(ValueError, match="non-negative"):
        verify_consistency(-1, 8, EMPTY_ROOT, ROOT_HASHES[8], [])
    with pytest.raises(ValueError, match="invalid leaf range"):
        subtree_root(LEAVES, 3, 2)
    with pytest.raises(ValueError, match="32-byte leaf hash"):
        MerkleAccumulator().append(b"raw entry, not a leaf hash")


def test_out_of_range_verification_fails_without_raising() -> None:
    # RFC 9162: "fail the proof verification", i.e. False, not an exception.
    assert verify_inclusion(LEAVES[0], 8, 8, [], ROOT_HASHES[8]) is False
    assert verify_consistency(8, 4, ROOT_HASHES[8], ROOT_HASHES[4], []) is False


# --- property tests ---------------------------------------------------------


def entries_for(n: int, seed: int) -> list[bytes]:
    return [seed.to_bytes(8, "big") + i.to_bytes(4, "big") for i in range(n)]


PROPERTY_SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(n=st.integers(0, 300), seed=st.integers(0, 2**32))
def test_roots_match_naive_reference(n: int, seed: int) -> None:
    entries = entries_for(n, seed)
    leaves = [leaf_hash(e) for e in entries]
    acc = MerkleAccumulator()
    for size, leaf in enumerate(leaves, start=1):
        acc.append(leaf)
        assert acc.size == size
        assert acc.root() == root_from_leaves(leaves[:size])
    assert acc.root() == root_from_leaves(leaves) == ref_mth(entries)


@PROPERTY_SETTINGS
@given(n=st.integers(1, 300), seed=st.integers(0, 2**32))
def test_every_inclusion_proof_verifies(n: int, seed: int) -> None:
    entries = entries_for(n, seed)
    leaves = [leaf_hash(e) for e in entries]
    root = root_from_leaves(leaves)
    for index in range(n):
        proof = inclusion_proof(leaves, index, n)
        assert verify_inclusion(leaves[index], index, n, proof, root)
    # Spot-check the exact path against the recursive definition.
    for index in {0, n // 3, n // 2, n - 1}:
        assert inclusion_proof(leaves, index, n) == ref_path(index, entries)


@PROPERTY_SETTINGS
@given(n=st.integers(1, 300), seed=st.integers(0, 2**32))
def test_every_consistency_proof_verifies(n: int, seed: int) -> None:
    entries = entries_for(n, seed)
    leaves = [leaf_hash(e) for e in entries]
    acc = MerkleAccumulator()
    roots = [acc.root()]
    for leaf in leaves:
        acc.append(leaf)
        roots.append(acc.root())
    for m in range(n + 1):
        proof = consistency_proof(leaves, m, n)
        assert verify_consistency(m, n, roots[m], roots[n], proof)
    for m in {1, n // 3, n // 2, n - 1} - {0}:
        expected = [] if m == n else ref_subproof(m, entries, True)
        assert consistency_proof(leaves, m, n) == expected


@PROPERTY_SETTINGS
@given(data=st.data(), n=st.integers(1, 300), seed=st.integers(0, 2**32))
def test_tampered_inclusion_fails(data: st.DataObject, n: int, seed: int) -> None:
    leaves = [leaf_hash(e) for e in entries_for(n, seed)]
    root = root_from_leaves(leaves)
    index = data.draw(st.integers(0, n - 1), label="index")
    proof = inclusion_proof(leaves, index, n)
    leaf = leaves[index]
    pos = data.draw(st.integers(0, 31), label="byte")
    mask = data.draw(st.integers(1, 255), label="mask")

    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = flip(wrong[i], pos, mask)
        assert not verify_inclusion(leaf, index, n, wrong, root)
    assert not verify_inclusion(flip(leaf, pos, mask), index, n, proof, root)
    assert not verify_inclusion(leaf, index, n, proof, flip(root, pos, mask))
    assert not verify_inclusion(leaf, index, n, [*proof, root], root)
    if proof:
        assert not verify_inclusion(leaf, index, n, proof[:-1], root)
    # Any other index fails: the path from the root identifies the leaf.
    other = data.draw(st.integers(0, n - 1).filter(lambda j: j != index) if n > 1 else st.none())
    if other is not None:
        assert not verify_inclusion(leaf, other, n, proof, root)
    # A different size fails unless its audit path has exactly the same shape
    # (then the proof hashes to the same root). Sizes are authenticated by the
    # signed checkpoint, not by the proof, so this is the precise property.
    size = data.draw(st.integers(index + 1, 2 * n + 1), label="size")
    if size != n:
        expected = path_shape(index, size) == path_shape(index, n)
        assert verify_inclusion(leaf, index, size, proof, root) is expected


@PROPERTY_SETTINGS
@given(data=st.data(), n=st.integers(2, 300), seed=st.integers(0, 2**32))
def test_tampered_consistency_fails(data: st.DataObject, n: int, seed: int) -> None:
    leaves = [leaf_hash(e) for e in entries_for(2 * n + 2, seed)]
    m = data.draw(st.integers(1, n - 1), label="old_size")
    proof = consistency_proof(leaves, m, n)
    r1, r2 = root_from_leaves(leaves[:m]), root_from_leaves(leaves[:n])
    pos = data.draw(st.integers(0, 31), label="byte")
    mask = data.draw(st.integers(1, 255), label="mask")

    assert verify_consistency(m, n, r1, r2, proof)
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = flip(wrong[i], pos, mask)
        assert not verify_consistency(m, n, r1, r2, wrong)
    assert not verify_consistency(m, n, flip(r1, pos, mask), r2, proof)
    assert not verify_consistency(m, n, r1, flip(r2, pos, mask), proof)
    assert not verify_consistency(m, n, r2, r1, proof)
    assert not verify_consistency(m, n, r1, r2, proof[:-1])
    assert not verify_consistency(m, n, r1, r2, [*proof, r2])
    # Sizes whose honest proof has another length can never verify: the
    # algorithm consumes exactly that many nodes.
    m2 = data.draw(st.integers(1, 2 * n), label="old_size2")
    n2 = data.draw(st.integers(m2, 2 * n + 2), label="new_size2")
    if len(consistency_proof(leaves, m2, n2)) != len(proof) and (m2, n2) != (m, n):
        assert not verify_consistency(m2, n2, r1, r2, proof)


def test_large_tree_proofs() -> None:
    # Big enough to exercise many levels; the verifier streams far more.
    n = 100_003
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    acc = MerkleAccumulator()
    old_root = b""
    for i, leaf in enumerate(leaves, start=1):
        acc.append(leaf)
        if i == 65_537:
            old_root = acc.root()
    root = acc.root()
    assert root == root_from_leaves(leaves)
    for index in (0, 65_536, n - 1):
        proof = inclusion_proof(leaves, index, n)
        assert verify_inclusion(leaves[index], index, n, proof, root)
    proof = consistency_proof(leaves, 65_537, n)
    assert verify_consistency(65_537, n, old_root, root, proof)
