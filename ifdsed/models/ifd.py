"""Inter-frame distance (IFD) domain adaptation (paper section 2.2): projection, pseudo labels and loss.

Notation: a batch of B clips, T frames, domain embeddings v [B, T, D] from `IFDProjection`, frame labels
[B, T, C] (strong labels for synthetic clips, pseudo strong labels for real weak clips) and clip tags [B, C].

Sampling (section 2.2.1). Every ordered clip pair (i, j), i != j, and frames only at the same time index t:
  (a) identical tag sets   -> positive frame pairs (i, j, t): the frame label vectors of i and j at t are equal
                              and not empty;
  (b) disjoint tag sets    -> negative frame pairs (i, j, t): both frames carry an event at t;
  (c) anything else        -> the clip pair is skipped.
A clip with an empty tag set (possible for a real clip with no target event, or a synthetic background-only clip)
needs no special case: two empty sets are identical but have no non-empty frame, and an empty set is disjoint
from any other but has no active frame, so such a clip only ever feeds the norm term. Frame labels are assumed
consistent with the tags (a frame never carries a class its clip is not tagged with; `pseudo_strong_labels`
guarantees it for weak clips).

Similarity (eq. 1): dis(v_it, v_jt) = v_it . v_jt / D, all of it as one Gram matrix per time index,
[T, B, B] = einsum('itd,jtd->tij') / D.

Loss (eq. 3) = hinge + norm, where the paper's sums are replaced by means (so that lambda_ifd does not depend
on batch size or clip length):
  triplet pairing (default; FaceNet reading of the paper's reference [14]): every anchor frame (i, t), positive
      partner j and negative partner k at the same t form a triplet; hinge = mean over all triplets of
      [dis(i,k,t) - dis(i,j,t) + margin]_+.
  mean pairing: per t having both kinds of pairs, [mean dis_neg - mean dis_pos + margin]_+; hinge = mean over
      those t.
  norm (eq. 2, squared): mean over all frames of the batch of (dis(i,i,t) - 1)^2.
When the batch has no valid triplet (or no t with both kinds of pairs) the hinge is exactly 0 with a zero
gradient: masked sums are divided by clamp(count, min=1), never by a zero count.

Domains of the pairs (`domains`, model.ifd_domains). "all" (default): every pair the sampling rule gives enters
the hinge, whatever the domains of its two clips. "cross": only real-synthetic pairs do: both masks are
restricted to clip pairs of different domains, pos &= cross, neg &= cross, with cross[i, j] = is_synthetic[i] !=
is_synthetic[j]. So in a triplet (anchor i, positive j, negative k) both j and k are of the other domain than the
anchor, and in the mean pairing both means are over real-synthetic pairs: every similarity in the hinge joins a
real and a synthetic frame. The norm term is unchanged (every frame of the batch). A batch with no cross-domain
triplet (say, no synthetic clip) has a hinge of exactly 0 with a zero gradient, as above.

Domain pairings (diagnostics): given which clips are synthetic, the counts of positive pairs, negative pairs and
triplets are also split by the domains of the pair: real-real (rr), synthetic-synthetic (ss) and real-synthetic in
either order (rs); a triplet by its anchor-positive pair. Every count is of the pairs that enter the hinge (with
"cross", after the domain mask: the rr and ss counts are then 0). The cross-domain positive pairs are the ones
that pull real and synthetic frames of an event together.

Everything is batched tensor code, with no Python loop over clips, pairs or frames. The triplet hinge is built
as [P, B] (P positive frame pairs, B candidate negatives each), at worst T * B^3 elements (B=32, T=500: 16 M,
66 MB in float32) and in practice far fewer, since positive pairs are rare.
"""
from __future__ import annotations

import torch
from torch import nn


class IFDProjection(nn.Module):
    """The dense projection of the IFD branch: x_t [B, T, emb_dim] -> domain embedding v_t [B, T, ifd_dim]."""

    def __init__(self, emb_dim: int, ifd_dim: int):
        super().__init__()
        self.proj = nn.Linear(emb_dim, ifd_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)  # [B, T, ifd_dim]


def pseudo_strong_labels(frame_probs: torch.Tensor, clip_tags: torch.Tensor, theta: float = 0.5) -> torch.Tensor:
    """Pseudo strong labels of weak clips: y~_{t,c} = 1[p_{t,c} > theta] * y_c (section 2.2.2).

    frame_probs: [B, T, C] ATP frame probabilities; clip_tags: [B, C] 0/1. Returns [B, T, C] 0/1, detached
    (no gradient flows into the ATP branch through the labels).
    """
    above = (frame_probs.detach() > theta).to(frame_probs.dtype)  # [B, T, C]
    return above * clip_tags.detach().to(frame_probs.dtype)[:, None, :]  # [B, T, C]


def pair_masks(frame_labels: torch.Tensor, clip_tags: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Positive and negative same-time frame pairs of a batch, as [T, B, B] boolean masks.

    pos[t, i, j]: clips i != j have identical tag sets, and their frame label vectors at t are equal, not empty.
    neg[t, i, j]: clips i != j have disjoint tag sets, and both frames at t carry an event.
    Both masks are symmetric in (i, j): every unordered pair appears twice, once as each ordered pair.
    """
    B = clip_tags.shape[0]
    tags = clip_tags > 0.5                                                      # [B, C]
    labels = (frame_labels > 0.5).float()                                       # [B, T, C]
    other = ~torch.eye(B, dtype=torch.bool, device=clip_tags.device)            # [B, B]  i != j
    same_tags = (tags[:, None, :] == tags[None, :, :]).all(-1) & other          # [B, B]  case (a)
    disjoint = ~(tags[:, None, :] & tags[None, :, :]).any(-1) & other           # [B, B]  case (b)
    # Number of classes on which frames (i, t) and (j, t) disagree; 0 means equal label vectors.
    mismatch = (torch.einsum("itc,jtc->tij", labels, 1 - labels)
                + torch.einsum("itc,jtc->tij", 1 - labels, labels))             # [T, B, B]
    active = (labels.sum(-1) > 0).T                                             # [T, B]
    pos = same_tags[None] & (mismatch == 0) & active[:, :, None]                # [T, B, B]  (equal, so j active too)
    neg = disjoint[None] & active[:, :, None] & active[:, None, :]              # [T, B, B]
    return pos, neg


def frame_similarity(v: torch.Tensor) -> torch.Tensor:
    """dis(v_it, v_jt) = v_it . v_jt / D for every t and clip pair: [B, T, D] -> Gram matrices [T, B, B]."""
    return torch.einsum("itd,jtd->tij", v, v) / v.shape[-1]


def triplet_hinge(dis: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean over triplets (t, anchor i, positive j, negative k) of [dis(i,k,t) - dis(i,j,t) + margin]_+.

    dis, pos, neg: [T, B, B]. Returns 0 (zero gradient) when there is no triplet.
    Positive pairs are the sparse side (identical tag sets and equal frame labels), so the hinge is built for the
    listed positive pairs only, against every candidate negative of their anchor: [P, B] instead of the dense
    [T, B, B, B] (identical numbers; on CUDA, listing the positives costs one device sync).
    """
    t, i, j = pos.nonzero(as_tuple=True)                                        # [P] x 3, positive pairs
    gap = (dis[t, i] + margin) - dis[t, i, j][:, None]                          # [P, B]  over negatives k
    is_neg = neg[t, i]                                                          # [P, B]
    hinge = torch.where(is_neg, torch.relu(gap), torch.zeros_like(gap))         # [P, B]
    return hinge.sum() / is_neg.sum().clamp(min=1)


def mean_hinge(dis: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean over the t having both kinds of pairs of [mean dis_neg(t) - mean dis_pos(t) + margin]_+.

    dis, pos, neg: [T, B, B]. Returns 0 (zero gradient) when no t has both.
    """
    zero = torch.zeros_like(dis)
    n_pos = pos.sum((1, 2))                                                     # [T]
    n_neg = neg.sum((1, 2))                                                     # [T]
    mean_pos = torch.where(pos, dis, zero).sum((1, 2)) / n_pos.clamp(min=1)     # [T]
    mean_neg = torch.where(neg, dis, zero).sum((1, 2)) / n_neg.clamp(min=1)     # [T]
    valid = (n_pos > 0) & (n_neg > 0)                                           # [T]
    per_t = torch.relu(mean_neg - mean_pos + margin)                            # [T]
    return torch.where(valid, per_t, torch.zeros_like(per_t)).sum() / valid.sum().clamp(min=1)


def norm_term(v: torch.Tensor) -> torch.Tensor:
    """Mean over all frames of (dis(v_it, v_it) - 1)^2, v: [B, T, D]."""
    self_dis = v.pow(2).sum(-1) / v.shape[-1]                                   # [B, T]
    return (self_dis - 1).pow(2).mean()


DOMAIN_PAIRINGS = ("rr", "ss", "rs")   # real-real, synthetic-synthetic, real-synthetic (either order)
IFD_DOMAINS = ("all", "cross")         # which pairs enter the hinge (model.ifd_domains)


def domain_pairings(is_synthetic: torch.Tensor) -> dict[str, torch.Tensor]:
    """Clip pairs by the domains of their two clips: {"rr", "ss", "rs"} -> [B, B] bool, from is_synthetic [B]."""
    s = is_synthetic.bool()                                                      # [B]
    return {"rr": ~s[:, None] & ~s[None, :], "ss": s[:, None] & s[None, :],
            "rs": s[:, None] != s[None, :]}                                      # [B, B] each


def cross_domain_pairs(pos: torch.Tensor, neg: torch.Tensor, is_synthetic: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """The real-synthetic pairs of the masks pos, neg [T, B, B] (`pair_masks`), is_synthetic [B] bool: both
    restricted to clip pairs of different domains, [T, B, B] x 2 (domains "cross", see the module docstring)."""
    cross = domain_pairings(is_synthetic)["rs"]                                  # [B, B]
    return pos & cross, neg & cross


def domain_pair_counts(pos: torch.Tensor, neg: torch.Tensor, is_synthetic: torch.Tensor) -> dict[str, torch.Tensor]:
    """Positive pairs, negative pairs and triplets split by domain pairing: {"n_pos_rr", ..., "n_triplets_rs"}.

    pos, neg [T, B, B] (`pair_masks`); is_synthetic [B] bool. Pairs are ordered, as in n_pos and n_neg; a
    triplet (t, i, j, k) counts under the pairing of its anchor i and positive j."""
    pairings = domain_pairings(is_synthetic)                                     # [B, B] each
    negatives_per_anchor = neg.sum(-1, keepdim=True)                             # [T, B, 1]
    counts = {}
    for name, mask in pairings.items():                                          # three pairings, not a data loop
        counts[f"n_pos_{name}"] = (pos & mask).sum()
        counts[f"n_neg_{name}"] = (neg & mask).sum()
        counts[f"n_triplets_{name}"] = ((pos & mask) * negatives_per_anchor).sum()
    return counts


def ifd_loss(v: torch.Tensor, frame_labels: torch.Tensor, clip_tags: torch.Tensor, margin: float = 0.1,
             pairing: str = "triplet", is_synthetic: torch.Tensor | None = None, domains: str = "all"
             ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The IFD loss of a batch: hinge + norm (see the module docstring for the exact definition).

    Args:
        v: [B, T, D] domain embeddings (half precision is computed in float32).
        frame_labels: [B, T, C] 0/1 frame labels (strong or pseudo strong).
        clip_tags: [B, C] 0/1 clip tags.
        margin: alpha of eq. 3.
        pairing: "triplet" or "mean".
        is_synthetic: [B] bool, which clips are synthetic; when given, the counts are also split by domain
            pairing (`domain_pair_counts`). Required by domains="cross".
        domains: "all" (every pair of the sampling rule) or "cross" (real-synthetic pairs only; see the module
            docstring).
    Returns:
        (loss, stats): loss is a scalar tensor; stats holds scalar tensors: hinge and norm, the two terms of the
        loss (with their graph, so that the gradient of each can be measured), and the detached counts n_pos and
        n_neg (ordered positive / negative frame pairs) and n_triplets (anchor, positive, negative triplets,
        counted for either pairing), and with is_synthetic n_pos_rr ... n_triplets_rs; every count is of the
        pairs that enter the hinge.
    """
    if pairing not in ("triplet", "mean"):
        raise ValueError(f"pairing must be 'triplet' or 'mean', got {pairing!r}")
    if domains not in IFD_DOMAINS:
        raise ValueError(f"domains must be 'all' or 'cross', got {domains!r}")
    if domains == "cross" and is_synthetic is None:
        raise ValueError("domains='cross' pairs real with synthetic frames: it needs is_synthetic")
    if v.dtype not in (torch.float32, torch.float64):
        v = v.float()                                                           # [B, T, D] half -> float32
    with torch.autocast(device_type=v.device.type, enabled=False):             # keep the Gram matrices in fp32
        pos, neg = pair_masks(frame_labels, clip_tags)                          # [T, B, B] x 2
        if domains == "cross":
            pos, neg = cross_domain_pairs(pos, neg, is_synthetic)               # [T, B, B] x 2
        dis = frame_similarity(v)                                               # [T, B, B]
        hinge_fn = triplet_hinge if pairing == "triplet" else mean_hinge
        hinge = hinge_fn(dis, pos, neg, margin)                                 # []
        norm = norm_term(v)                                                     # []
    # Triplets per anchor (t, i): its positives times its negatives.
    n_triplets = (pos.sum(-1) * neg.sum(-1)).sum()                              # []
    stats = {"hinge": hinge, "norm": norm, "n_pos": pos.sum(), "n_neg": neg.sum(),
             "n_triplets": n_triplets}
    if is_synthetic is not None:
        stats.update(domain_pair_counts(pos, neg, is_synthetic))
    return hinge + norm, stats
