"""PointHMR's mesh matrices: k-hop attention masks, up-sampling, and the mannequin's own.

PointHMR needs three matrices that are not in its checkpoint: the coarse mesh's adjacency
(from which the attention masks come) and two up-sampling matrices (coarse -> mid -> full
mesh). The official ones derive from SMPL's topology and are read from the user's copy of
the official files (:mod:`studio.nets.pointhmr_files`); the mannequin's are derived here
from its own 1/4 and 1/16 meshes.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import dijkstra

# Hops of the vertex-to-vertex attention in the four transformer blocks, in order.
BLOCK_HOPS = (7, 5, 3, 1)

def as_scipy(matrix: object, name: str = "matrix") -> sp.csr_matrix:
    """A scipy sparse, numpy or torch (dense or sparse) matrix as float64 CSR."""
    if isinstance(matrix, torch.Tensor):
        matrix = matrix.detach().cpu()
        if matrix.layout != torch.strided:
            coo = matrix.to_sparse_coo().coalesce()
            idx = coo.indices().numpy()
            return sp.csr_matrix((coo.values().double().numpy(), (idx[0], idx[1])),
                                 shape=tuple(coo.shape))
        matrix = matrix.double().numpy()
    if sp.issparse(matrix):
        return sp.csr_matrix(matrix, dtype=np.float64)
    array = np.asarray(matrix)
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name}: expected a 2-D numeric matrix, got {array.dtype} "
                         f"{list(array.shape)}")
    return sp.csr_matrix(array.astype(np.float64))


def check_shape(matrix: sp.csr_matrix, shape: tuple[int, int], name: str) -> None:
    if matrix.shape != shape:
        raise ValueError(f"{name}: expected shape {list(shape)}, got {list(matrix.shape)}")


def khop_reach(adjacency: object, hops: int) -> np.ndarray:
    """[V, V] bool: j reachable from i in 1..``hops`` steps over the entries > 0.

    The matrix is used as given (the official data sets the diagonal, so every vertex
    reaches itself); this is the official mask construction's reach, row by row.
    """
    step = torch.from_numpy((as_scipy(adjacency).toarray() > 0).astype(np.float32))
    reach = step > 0
    for _ in range(hops - 1):
        reach = reach | ((reach.float() @ step) > 0)
    return reach.numpy()


def attention_masks(adjacency: object, prefix_tokens: int,
                    hops: Sequence[int] = BLOCK_HOPS) -> list[torch.Tensor]:
    """One bool mask [T, T] per block (True = blocked, PyTorch's ``attn_mask``).

    Tokens are ``prefix_tokens`` (camera, grid, joints; attend and are attended freely)
    followed by the vertices, which attend to vertices within the block's hops only.
    """
    masks = []
    for k in hops:
        reach = torch.from_numpy(khop_reach(adjacency, k))
        v = reach.shape[0]
        mask = torch.zeros(prefix_tokens + v, prefix_tokens + v, dtype=torch.bool)
        mask[prefix_tokens:, prefix_tokens:] = ~reach
        masks.append(mask)
    return masks


def sparse_float32(matrix: object) -> torch.Tensor:
    """A matrix as a coalesced float32 torch sparse COO tensor."""
    coo = as_scipy(matrix).tocoo()
    indices = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    values = torch.from_numpy(coo.data.astype(np.float32))
    return torch.sparse_coo_tensor(indices, values, coo.shape, check_invariants=True).coalesce()


def upsample(matrix: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``matrix @ x[b]`` for every sample b of x [B, N, C] (float32, one sparse product)."""
    b, n, c = x.shape
    flat = x.permute(1, 0, 2).reshape(n, b * c)
    return torch.sparse.mm(matrix, flat).reshape(-1, b, c).permute(1, 0, 2).contiguous()


def _kept_indices(down: sp.spmatrix) -> np.ndarray:
    """The fine vertex each row of a vertex-selection matrix picks."""
    csr = sp.csr_matrix(down)
    if not np.all(np.diff(csr.indptr) == 1):
        raise ValueError("down-sampling matrix must select exactly one vertex per row")
    return csr.indices.astype(np.int64)


def cell_adjacency(vertices: np.ndarray, faces: np.ndarray, kept: np.ndarray) -> sp.csr_matrix:
    """Adjacency of a coarse mesh whose vertices are the fine vertices ``kept``.

    Every fine vertex joins the cell of its nearest kept vertex along the fine mesh's
    edges; two coarse vertices are neighbours when a fine edge joins their cells (the
    graph of a restricted Voronoi diagram). The diagonal is set and rows are normalised
    to 1 / (degree + 1), as in the official 431-vertex file.
    """
    from studio.body.downsample import _edge_graph

    graph = _edge_graph(np.asarray(vertices, np.float64), np.asarray(faces, np.int64))
    _, _, owner = dijkstra(graph, directed=False, indices=kept, min_only=True,
                           return_predecessors=True)
    if np.any(owner < 0):
        raise ValueError("the mesh is not connected: some vertices reach no kept vertex")
    lookup = np.full(len(vertices), -1, np.int64)
    lookup[kept] = np.arange(len(kept))
    cell = lookup[owner]
    edges = graph.tocoo()
    a, b = cell[edges.row], cell[edges.col]
    n = len(kept)
    pairs = sp.coo_matrix((np.ones(int((a != b).sum())), (a[a != b], b[a != b])), shape=(n, n))
    linked = ((pairs + pairs.T + sp.identity(n)) > 0).astype(np.float64)
    return sp.csr_matrix(sp.diags(1.0 / np.asarray(linked.sum(axis=1)).ravel()) @ linked)


def level_indices(body: object) -> tuple[np.ndarray, np.ndarray]:
    """The full-mesh vertex behind each mid (1/4) and coarse (1/16) vertex of ``body``
    (a ``BodyData``): its down-sampling matrices select vertices."""
    down = body.downsampling
    mid = _kept_indices(down[0])
    return mid, mid[_kept_indices(down[1])]


def mannequin_matrices(body: object | None = None) -> dict[str, sp.csr_matrix]:
    """The mannequin's PointHMR matrices (7000 -> 1750 -> 438 vertices).

    Keys: ``adjacency`` [438, 438] (coarse level, diagonal set), ``adjacency_mid``
    [1750, 1750], ``upsample_coarse_to_mid`` [1750, 438] (``BodyData.upsampling[1]``) and
    ``upsample_mid_to_full`` [7000, 1750] (``upsampling[0]``).
    """
    if body is None:
        from studio.body.registry import load_mannequin

        body = load_mannequin()
    up = body.upsampling
    mid, coarse = level_indices(body)
    verts, faces = np.asarray(body.v_template), np.asarray(body.faces)
    return {"adjacency": cell_adjacency(verts, faces, coarse),
            "adjacency_mid": cell_adjacency(verts, faces, mid),
            "upsample_coarse_to_mid": as_scipy(up[1]),
            "upsample_mid_to_full": as_scipy(up[0])}
