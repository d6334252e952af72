"""The points refinement reads, posed without the rest of the mesh.

Each refinement step needs only the body's mediapipe33 keypoints and its silhouette's
surface samples: about 1,230 points, each a fixed mix of vertices (a landmark vertex, a
sample's triangle corners) or of joints. In linear blend skinning a vertex is
``sum_j w_j (G_j (v - J_j) + p_j)`` over the joints' world rotations G, posed joints p
and rest joints J, whose rest-frame parts are linear in the shape; so a point is
``sum_j G_j a_j(betas) + W_j p_j``, with ``a`` (for the 1 in 8 (point, joint) pairs
where the joint moves the point) and ``W`` worked out once per body, as
:class:`studio.pipeline.keypoint_refine.KeypointBody` does in numpy. Posing is then the
kinematic chain (pointer jumping: 4 batched products) and one [P,72] x [72,3] product,
and its backward is written out (:class:`_Skin`): about half the time of skinning the
~2,700 vertices the points touch with autograd, which was a third of a step.
"""
from __future__ import annotations

import numpy as np
import torch

from studio.body import joint_sets as js
from studio.body.model import NUM_JOINTS, BodyModel
from studio.pipeline.keypoint_refine import chain_tables
from studio.synth.soft_silhouette import SurfaceSamples


class PointBody:
    """``body``'s mediapipe33 keypoints and ``samples``' points for a pose and shape."""

    def __init__(self, body: BodyModel, samples: SurfaceSamples) -> None:
        mapping = js.mapping_matrix("mediapipe33")  # [33, sources]
        landmark_count = len(js.LANDMARK_NAMES)
        if mapping[:, NUM_JOINTS + landmark_count:].any():
            raise ValueError("mediapipe33 reads points this class does not pose")
        # each point as a sparse mix of vertices (keypoints' landmarks, then the samples'
        # corners): (point, vertex, coefficient) triples; and of posed joints [P,24]
        landmarks = np.array([body.data.landmarks[n] for n in js.LANDMARK_NAMES])
        landmark_mix = mapping[:, NUM_JOINTS:NUM_JOINTS + landmark_count]
        rows, cols = np.nonzero(landmark_mix)
        point = np.concatenate([rows, len(mapping) + np.repeat(np.arange(len(samples.bary)), 3)])
        vertex = np.concatenate([landmarks[cols], samples.corners.numpy().reshape(-1)])
        coeff = np.concatenate([landmark_mix[rows, cols],
                                samples.bary.double().numpy().reshape(-1)])
        count = len(mapping) + len(samples.bary)
        used, vertex = np.unique(vertex, return_inverse=True)
        dt = body.v_template.dtype
        with torch.no_grad():
            index = torch.as_tensor(used)
            weights = body.lbs_weights[index].double()  # [U,24]
            # (p, j) pairs where joint j moves point p (an eighth of all): the entries
            # c_pu w_uj of the sparse mix M[pair, u] that sums skinning's terms
            entry_weights = torch.as_tensor(coeff)[:, None] * weights[torch.as_tensor(vertex)]
            t, j = torch.nonzero(entry_weights, as_tuple=True)
            rows = torch.as_tensor(point)[t] * NUM_JOINTS + j
            pairs, rows = torch.unique(rows, return_inverse=True)
            mix = torch.sparse_coo_tensor(
                torch.stack([rows, torch.as_tensor(vertex)[t]]), entry_weights[t, j],
                (len(pairs), len(used)), check_invariants=True).coalesce()
            weight = torch.zeros(count * NUM_JOINTS, dtype=torch.float64).index_add_(
                0, pairs, torch.sparse.sum(mix, 1).to_dense()).reshape(count, NUM_JOINTS)
            self.pairs, self.count = pairs, count
            regressor = body.J_regressor.double()
            joint_template = regressor @ body.v_template.double()
            shapedirs = body.shapedirs.double()
            joint_dirs = torch.einsum("jv,vdk->jdk", regressor, shapedirs)
            # a_pj = sum_v c_pv w_vj (v_v - J_j): its template part and shape directions
            pair_weight = weight.reshape(-1)[pairs]
            joint = pairs % NUM_JOINTS
            betas = shapedirs.shape[-1]
            centre = torch.sparse.mm(mix, body.v_template[index].double()) \
                - pair_weight[:, None] * joint_template[joint]
            dirs = torch.sparse.mm(mix, shapedirs[index].reshape(len(used), -1)).reshape(
                len(pairs), 3, betas) - pair_weight[:, None, None] * joint_dirs[joint]
            self.posedirs, self.mix = None, mix.to(dt)
            if body._pose_correctives:  # [207, U*3]: the used vertices' correctives
                self.posedirs = body.posedirs.reshape(body.posedirs.shape[0], -1, 3)[
                    :, index].reshape(body.posedirs.shape[0], -1)
            self.joint_template = joint_template.to(dt)
            self.joint_dirs = joint_dirs.to(dt)
            self.centre = centre.to(dt)  # [Q,3]
            self.dirs = dirs.reshape(-1, betas).to(dt)  # [Q*3,10]
            joint_mix = torch.zeros(count, NUM_JOINTS, dtype=torch.float64)
            joint_mix[:len(mapping)] = torch.as_tensor(mapping[:, :NUM_JOINTS])
            self.weight = (weight + joint_mix).to(dt)  # [P,24]
        # the chain by pointer jumping (as KeypointBody.chain): each joint's world
        # rotation in log2(depth) batched products, index 24 the identity
        parents = body.parents.numpy()
        jumps, subtree = chain_tables(parents)
        self.jumps = [torch.as_tensor(above) for above in jumps]
        # subtree[j, a]: j is a or below a (posed joints from turned bones)
        self.subtree = torch.as_tensor(subtree.T, dtype=dt)
        self.parents = torch.as_tensor(parents[1:])
        # for the backward: sums over each joint's children and the bones' ends (bone
        # a-1 runs from parents[a] to a)
        children = np.zeros((NUM_JOINTS, NUM_JOINTS - 1))
        children[parents[1:], np.arange(NUM_JOINTS - 1)] = 1.0
        self.parent_onehot = torch.as_tensor(children, dtype=dt)
        incidence = -children
        incidence[np.arange(1, NUM_JOINTS), np.arange(NUM_JOINTS - 1)] += 1.0
        self.bone_incidence = torch.as_tensor(incidence, dtype=dt)
        self.keypoint_count = len(mapping)
        self.used_vertices = len(used)

    def __call__(self, rotmats: torch.Tensor, betas: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """(keypoints [B,33,3], surface samples [B,N,3]) for local rotations
        [B,24,3,3] and betas [B,10], as the whole body would place them."""
        b = rotmats.shape[0]
        rest_joints = self.joint_template + torch.einsum("bk,jdk->bjd", betas, self.joint_dirs)
        a = self.centre + (betas @ self.dirs.T).reshape(b, *self.centre.shape)  # [B,Q,3]
        if self.posedirs is not None:  # the correctives' offsets, mixed as the template
            eye = torch.eye(3, dtype=rotmats.dtype)
            offsets = ((rotmats[:, 1:] - eye).reshape(b, -1) @ self.posedirs).reshape(b, -1, 3)
            a = a + torch.stack([torch.sparse.mm(self.mix, o) for o in offsets])
        points = _Skin.apply(rotmats, a, rest_joints, self)
        return points[:, :self.keypoint_count], points[:, self.keypoint_count:]


class _Skin(torch.autograd.Function):
    """Points [B,P,3] from local rotations [B,24,3,3], the pairs' rest-frame parts
    [B,Q,3] and rest joints [B,24,3] (:class:`PointBody`'s layout), with the backward
    written out: autograd's through the chain's gathers cost twice the forward."""

    @staticmethod
    def forward(ctx, rotmats: torch.Tensor, parts: torch.Tensor, rest_joints: torch.Tensor,
                body: PointBody) -> torch.Tensor:
        b = rotmats.shape[0]
        world = torch.cat([rotmats, torch.eye(3, dtype=rotmats.dtype).expand(b, 1, 3, 3)], 1)
        for above in body.jumps:  # each joint's product down from its ancestor "above"
            world = world[:, above] @ world
        world = world[:, :NUM_JOINTS]
        bones = rest_joints[:, 1:] - rest_joints[:, body.parents]
        turned = torch.cat([rest_joints[:, :1],
                            (world[:, body.parents] @ bones[..., None])[..., 0]], 1)
        joints = body.subtree @ turned  # each posed joint: its own and its ancestors' bones
        # sum_j G_j a_pj: the parts laid out as a dense [P, 24*3] (most of it zeros)
        # times the stacked transposed world rotations [72,3]
        laid = torch.zeros(b, body.count * NUM_JOINTS, 3, dtype=parts.dtype)
        laid[:, body.pairs] = parts
        laid = laid.reshape(b, body.count, -1)
        turn = world.transpose(-1, -2).reshape(b, -1, 3)
        ctx.save_for_backward(laid, turn, world, bones)
        ctx.body = body
        return laid @ turn + body.weight @ joints

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        laid, turn, world, bones = ctx.saved_tensors
        body = ctx.body
        b = grad.shape[0]
        d_parts = (grad @ turn.transpose(-1, -2)).reshape(b, -1, 3)[:, body.pairs]
        d_turned = body.subtree.T @ (body.weight.T @ grad)  # [B,24,3]
        # d/d G_j directly: from the parts it turns and the bones below it
        d_world = (laid.transpose(-1, -2) @ grad).reshape(b, -1, 3, 3).transpose(-1, -2) + (
            body.parent_onehot @ (d_turned[:, 1:, :, None] * bones[..., None, :]).reshape(
                b, -1, 9)).reshape(b, -1, 3, 3)
        d_bones = (world[:, body.parents].transpose(-1, -2) @ d_turned[:, 1:, :, None])[..., 0]
        d_rest = body.bone_incidence @ d_bones
        d_rest[:, 0] += d_turned[:, 0]
        # through the chain G_j = G_parent R_j: d/d R_j = G_parent^T F_j G_j with F_j the
        # sum over j's subtree of (d/d G_k) G_k^T
        spread = body.subtree.T @ (d_world @ world.transpose(-1, -2)).reshape(b, -1, 9)
        total = spread.reshape(b, -1, 3, 3) @ world
        above = torch.cat([torch.eye(3, dtype=world.dtype).expand(b, 1, 3, 3),
                           world[:, body.parents]], 1)
        return above.transpose(-1, -2) @ total, d_parts, d_rest, None
