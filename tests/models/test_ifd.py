"""The IFD loss against hand-computed tiny cases and a slow, literal Python-loop reference."""
from __future__ import annotations

import itertools

import pytest
import torch

from ifdsed.models.ifd import (cross_domain_pairs, frame_similarity, ifd_loss, mean_hinge, norm_term,
                               pair_masks, pseudo_strong_labels, triplet_hinge)

A, B_ = 0, 1  # class indices of the hand-made cases (B_ so as not to shadow the batch size B)


def reference_ifd(v, frame_labels, clip_tags, margin=0.1, pairing="triplet", is_synthetic=None, domains="all"):
    """Literal transcription of docs/method.md with Python sets and loops: (hinge, norm, n_pos, n_neg, n_triplets).
    domains "cross": a clip pair of one domain gives no pair at all."""
    n_clips, n_frames, dim = v.shape
    tags = [frozenset(torch.nonzero(clip_tags[i] > 0.5).flatten().tolist()) for i in range(n_clips)]
    label = [[frozenset(torch.nonzero(frame_labels[i, t] > 0.5).flatten().tolist()) for t in range(n_frames)]
             for i in range(n_clips)]

    def dis(i, j, t):
        return torch.dot(v[i, t], v[j, t]) / dim

    positives, negatives = {}, {}  # (i, t) -> list of partner clips
    for i, j in itertools.permutations(range(n_clips), 2):
        if domains == "cross" and bool(is_synthetic[i]) == bool(is_synthetic[j]):
            continue                                    # only real-synthetic pairs
        for t in range(n_frames):
            if tags[i] == tags[j]:                      # case (a)
                if label[i][t] == label[j][t] and label[i][t]:
                    positives.setdefault((i, t), []).append(j)
            elif not tags[i] & tags[j]:                 # case (b)
                if label[i][t] and label[j][t]:
                    negatives.setdefault((i, t), []).append(j)
            # case (c): skipped
    n_pos = sum(len(p) for p in positives.values())
    n_neg = sum(len(n) for n in negatives.values())
    terms = []
    for (i, t), pos_partners in positives.items():
        for j in pos_partners:
            for k in negatives.get((i, t), []):
                terms.append(torch.relu(dis(i, k, t) - dis(i, j, t) + margin))
    n_triplets = len(terms)
    if pairing == "triplet":
        hinge = torch.stack(terms).mean() if terms else v.sum() * 0
    else:
        per_t = []
        for t in range(n_frames):
            pos = [dis(i, j, t) for (i, tt), js in positives.items() if tt == t for j in js]
            neg = [dis(i, k, t) for (i, tt), ks in negatives.items() if tt == t for k in ks]
            if pos and neg:
                per_t.append(torch.relu(torch.stack(neg).mean() - torch.stack(pos).mean() + margin))
        hinge = torch.stack(per_t).mean() if per_t else v.sum() * 0
    norms = [(dis(i, i, t) - 1) ** 2 for i in range(n_clips) for t in range(n_frames)]
    return hinge, torch.stack(norms).mean(), n_pos, n_neg, n_triplets


def hand_case():
    """4 clips, 2 frames, 2 classes, 2-D embeddings.

    clip 0: tags {A},   frames [{A}, {}]
    clip 1: tags {A},   frames [{A}, {A}]
    clip 2: tags {B},   frames [{B}, {B}]
    clip 3: tags {A,B}, frames [{A}, {B}]   -> shares a tag with every other clip: case (c), skipped
    Positive pairs: (0,1,t0) and (1,0,t0). Negative pairs: (0,2,t0), (1,2,t0), (1,2,t1) and their mirrors.
    Triplets: anchor (0,t0): pos 1, neg 2; anchor (1,t0): pos 0, neg 2. Anchor (1,t1) has no positive.
    """
    tags = torch.tensor([[1, 0], [1, 0], [0, 1], [1, 1]], dtype=torch.float32)
    labels = torch.zeros(4, 2, 2)
    labels[0, 0, A] = 1
    labels[1, :, A] = 1
    labels[2, :, B_] = 1
    labels[3, 0, A] = 1
    labels[3, 1, B_] = 1
    v = torch.tensor([[[1., 1.], [2., 0.]],
                      [[1., -1.], [0., 0.]],
                      [[0., 1.], [1., 1.]],
                      [[1., 0.], [0., 2.]]], requires_grad=True)
    return v, labels, tags


def test_hand_case_masks_and_counts():
    v, labels, tags = hand_case()
    pos, neg = pair_masks(labels, tags)
    assert pos.shape == neg.shape == (2, 4, 4)
    assert {tuple(x) for x in torch.nonzero(pos).tolist()} == {(0, 0, 1), (0, 1, 0)}
    assert {tuple(x) for x in torch.nonzero(neg).tolist()} == {
        (0, 0, 2), (0, 2, 0), (0, 1, 2), (0, 2, 1), (1, 1, 2), (1, 2, 1)}
    _, stats = ifd_loss(v, labels, tags)
    assert (stats["n_pos"], stats["n_neg"], stats["n_triplets"]) == (2, 6, 2)


def test_hand_case_triplet_value():
    # dis at t0: (0,1) = (1*1 + 1*-1)/2 = 0, (0,2) = 0.5, (1,2) = -0.5.
    # triplet (0; 1, 2): [0.5 - 0 + 0.1]_+ = 0.6;  triplet (1; 0, 2): [-0.5 - 0 + 0.1]_+ = 0  -> hinge 0.3.
    # self dis: clip0 [1, 2], clip1 [1, 0], clip2 [0.5, 1], clip3 [0.5, 2]
    # (dis - 1)^2 = 0, 1, 0, 1, 0.25, 0, 0.25, 1 -> norm 3.5 / 8 = 0.4375.
    v, labels, tags = hand_case()
    loss, stats = ifd_loss(v, labels, tags, margin=0.1, pairing="triplet")
    assert stats["hinge"].item() == pytest.approx(0.3, abs=1e-6)
    assert stats["norm"].item() == pytest.approx(0.4375, abs=1e-6)
    assert loss.item() == pytest.approx(0.7375, abs=1e-6)


def test_hand_case_mean_value():
    # t0: positives (0,1),(1,0): mean 0; negatives 0.5, 0.5, -0.5, -0.5: mean 0 -> [0 - 0 + 0.1]_+ = 0.1.
    # t1: no positive -> not counted. hinge = 0.1.
    v, labels, tags = hand_case()
    loss, stats = ifd_loss(v, labels, tags, margin=0.1, pairing="mean")
    assert stats["hinge"].item() == pytest.approx(0.1, abs=1e-6)
    assert loss.item() == pytest.approx(0.5375, abs=1e-6)


def test_skipped_clip_gets_no_hinge_gradient():
    """Clip 3 is in case (c) with every other clip: the hinge neither reads nor moves its embeddings."""
    for pairing in ("triplet", "mean"):
        v, labels, tags = hand_case()
        pos, neg = pair_masks(labels, tags)
        hinge_fn = triplet_hinge if pairing == "triplet" else mean_hinge
        hinge = hinge_fn(frame_similarity(v), pos, neg, 0.1)
        hinge.backward()
        assert torch.all(v.grad[3] == 0)
        assert torch.any(v.grad[:3] != 0)
        moved = v.detach().clone()
        moved[3] = torch.tensor([[5., -3.], [7., 7.]])
        assert hinge_fn(frame_similarity(moved), pos, neg, 0.1).item() == pytest.approx(hinge.item())


def test_positive_needs_equal_frame_label_vectors():
    """Same tag sets {A, B}: frames {A} vs {A, B} are not a positive pair; {A, B} vs {A, B} is."""
    tags = torch.ones(2, 2)
    labels = torch.tensor([[[1., 0.], [1., 1.]],
                           [[1., 1.], [1., 1.]]])
    pos, neg = pair_masks(labels, tags)
    assert not pos[0].any() and pos[1, 0, 1] and pos[1, 1, 0]
    assert not neg.any()


def test_only_positive_or_only_negative_pairs():
    """A positive pair alone (or a negative pair alone) forms no triplet: hinge 0, norm term only."""
    v = torch.tensor([[[1., 1.]], [[1., -1.]]], requires_grad=True)    # self dis 1: norm 0
    labels_same = torch.tensor([[[1., 0.]], [[1., 0.]]])
    labels_diff = torch.tensor([[[1., 0.]], [[0., 1.]]])
    for labels, expected in ((labels_same, (2, 0)), (labels_diff, (0, 2))):
        tags = labels[:, 0, :]
        for pairing in ("triplet", "mean"):
            loss, stats = ifd_loss(v, labels, tags, pairing=pairing)
            assert (stats["n_pos"], stats["n_neg"], stats["n_triplets"]) == (*expected, 0)
            assert loss.item() == 0.0


def test_norm_term_by_hand():
    v = torch.tensor([[[2., 0.], [0., 0.]], [[1., 1.], [3., 1.]]])  # self dis 2, 0, 1, 5
    _, stats = ifd_loss(v, torch.zeros(2, 2, 3), torch.zeros(2, 3))
    assert stats["norm"].item() == pytest.approx((1 + 1 + 0 + 16) / 4)


@pytest.mark.parametrize("pairing", ["triplet", "mean"])
@pytest.mark.parametrize("case", ["empty_tags", "all_case_c", "single_clip", "same_tags_silent_frames"])
def test_no_valid_pair_is_zero_with_zero_gradient(pairing, case):
    torch.manual_seed(0)
    n_clips = 1 if case == "single_clip" else 3
    # Every frame has self-similarity exactly 1 (entries +-1 in 2-D), so the norm term is 0 as well.
    v = (torch.randint(0, 2, (n_clips, 4, 2)).float() * 2 - 1).requires_grad_()
    tags = torch.zeros(n_clips, 3)
    labels = torch.zeros(n_clips, 4, 3)
    if case == "all_case_c":                        # overlapping but different tag sets everywhere
        tags = torch.tensor([[1., 1., 0.], [0., 1., 1.], [1., 0., 1.]])
        labels = tags[:, None, :].expand(-1, 4, -1).clone()
    elif case == "single_clip":
        tags[0, 0] = 1
        labels[0, :, 0] = 1
    elif case == "same_tags_silent_frames":         # identical tags, but never the same labels at the same t
        tags[:, 0] = 1
        labels[0, 0, 0] = labels[1, 1, 0] = labels[2, 2, 0] = 1
    loss, stats = ifd_loss(v, labels, tags, pairing=pairing)
    loss.backward()
    assert stats["n_triplets"] == 0
    assert loss.item() == 0.0 and stats["hinge"].item() == 0.0
    assert torch.isfinite(v.grad).all() and torch.all(v.grad == 0)


def random_batch(seed, n_clips=6, n_frames=5, dim=3, n_classes=3):
    """Few classes so that identical and disjoint tag sets are frequent."""
    gen = torch.Generator().manual_seed(seed)
    tags = (torch.rand(n_clips, n_classes, generator=gen) < 0.4).float()
    tags[: n_clips // 2] = tags[0]                                      # guarantee some identical tag sets
    active = (torch.rand(n_clips, n_frames, n_classes, generator=gen) < 0.6).float()
    labels = active * tags[:, None, :]
    v = torch.randn(n_clips, n_frames, dim, generator=gen, dtype=torch.float64)
    return v, labels, tags


@pytest.mark.parametrize("pairing", ["triplet", "mean"])
@pytest.mark.parametrize("seed", range(8))
def test_matches_loop_reference_value_and_gradient(pairing, seed):
    v, labels, tags = random_batch(seed)
    v_fast = v.clone().requires_grad_()
    v_ref = v.clone().requires_grad_()
    loss, stats = ifd_loss(v_fast, labels, tags, margin=0.1, pairing=pairing)
    hinge, norm, n_pos, n_neg, n_triplets = reference_ifd(v_ref, labels, tags, margin=0.1, pairing=pairing)
    (hinge + norm).backward()
    loss.backward()
    assert (stats["n_pos"], stats["n_neg"], stats["n_triplets"]) == (n_pos, n_neg, n_triplets)
    assert stats["hinge"].item() == pytest.approx(hinge.item(), abs=1e-10)
    assert stats["norm"].item() == pytest.approx(norm.item(), abs=1e-10)
    assert torch.isfinite(v_fast.grad).all()
    torch.testing.assert_close(v_fast.grad, v_ref.grad, atol=1e-10, rtol=1e-8)


def test_reference_cases_are_not_trivial():
    """The random batches above do exercise all three cases and produce triplets."""
    triplets = [reference_ifd(*random_batch(seed))[4] for seed in range(8)]
    assert sum(t > 0 for t in triplets) >= 4


def test_loss_is_float32_for_half_inputs():
    v, labels, tags = hand_case()
    loss, _ = ifd_loss(v.detach().to(torch.bfloat16), labels, tags)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(0.7375, abs=1e-6)


def test_unknown_pairing_is_an_error():
    v, labels, tags = hand_case()
    with pytest.raises(ValueError, match="pairing"):
        ifd_loss(v, labels, tags, pairing="sum")


def test_pseudo_strong_labels():
    probs = torch.tensor([[[0.2, 0.7, 0.9], [0.6, 0.4, 0.5], [0.51, 0.99, 0.1]]], requires_grad=True)  # [1, 3, 3]
    tags = torch.tensor([[1., 0., 1.]])
    pseudo = pseudo_strong_labels(probs, tags, theta=0.5)
    expected = torch.tensor([[[0., 0., 1.], [1., 0., 0.], [1., 0., 0.]]])  # class 1 untagged; 0.5 is not > 0.5
    assert torch.equal(pseudo, expected)
    assert not pseudo.requires_grad
    assert torch.equal(pseudo_strong_labels(probs, tags, theta=0.8), torch.tensor([[[0., 0., 1.], [0, 0, 0],
                                                                                    [0, 0, 0]]]))


def test_autocast_does_not_lower_the_precision():
    v, labels, tags = hand_case()
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        loss, _ = ifd_loss(v.detach() * 1.001, labels, tags)
    expected, _ = ifd_loss(v.detach() * 1.001, labels, tags)
    assert loss.dtype == torch.float32 and loss.item() == expected.item()


def test_pair_counts_by_domain_on_a_hand_built_batch():
    """Five clips, every frame carrying its clip's one class: real 0 {A}, real 1 {B}, synthetic 2 {A},
    synthetic 3 {B}, real 4 {A}; two frames. Per frame, by hand: positives (same tags) 0-4 (real-real), 0-2, 2-4
    and 1-3 (real-synthetic), each in both orders; negatives (disjoint tags) 0-1, 1-4 (real-real), 2-3
    (synthetic-synthetic), 0-3, 1-2, 3-4 (real-synthetic), both orders; triplets by anchor and positive: anchor 0
    and anchor 4 each have one real and one synthetic positive and two negatives, anchor 2 two real positives and
    two negatives, anchors 1 and 3 one positive and three negatives."""
    A, B = [1.0, 0.0], [0.0, 1.0]
    tags = torch.tensor([A, B, A, B, A])                                        # [5, 2]
    frame_labels = tags[:, None, :].expand(5, 2, 2).clone()                      # [5, T=2, 2]
    is_synthetic = torch.tensor([False, False, True, True, False])
    v = torch.randn(5, 2, 4, generator=torch.Generator().manual_seed(0))
    _, stats = ifd_loss(v, frame_labels, tags, is_synthetic=is_synthetic)
    counts = {key: int(value) for key, value in stats.items() if key.startswith("n_")}
    assert counts == {"n_pos": 16, "n_neg": 24, "n_triplets": 36,
                      "n_pos_rr": 4, "n_pos_ss": 0, "n_pos_rs": 12,
                      "n_neg_rr": 8, "n_neg_ss": 4, "n_neg_rs": 12,
                      "n_triplets_rr": 8, "n_triplets_ss": 0, "n_triplets_rs": 28}
    _, plain = ifd_loss(v, frame_labels, tags)                                  # without domains: no split
    assert not any(key.endswith(("_rr", "_ss", "_rs")) for key in plain)
    assert torch.equal(plain["n_triplets"], stats["n_triplets"])


# ------------------------------------------------------------------------------ model.ifd_domains: cross
def domain_batch():
    """The five clips above (real 0 {A}, real 1 {B}, synthetic 2 {A}, synthetic 3 {B}, real 4 {A}; every frame
    carries its clip's one class; two frames)."""
    A, B = [1.0, 0.0], [0.0, 1.0]
    tags = torch.tensor([A, B, A, B, A])                                        # [5, 2]
    frame_labels = tags[:, None, :].expand(5, 2, 2).clone()                      # [5, T=2, 2]
    is_synthetic = torch.tensor([False, False, True, True, False])
    v = torch.randn(5, 2, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return v, frame_labels, tags, is_synthetic


def test_cross_keeps_only_real_synthetic_pairs_on_a_hand_built_batch():
    """By hand, per frame: cross positives 0-2, 2-4, 1-3; cross negatives 0-3, 1-2, 3-4 (both orders each); the
    real-real positive 0-4 and negatives 0-1, 1-4, and the synthetic-synthetic negative 2-3, are dropped. Triplets:
    anchor 0 (pos 2, neg 3), 4 (pos 2, neg 3), 1 (pos 3, neg 2): one each; anchor 2 (pos 0, 4; neg 1) and anchor 3
    (pos 1; neg 0, 4): two each. 7 per frame."""
    v, labels, tags, is_synthetic = domain_batch()
    pos, neg = cross_domain_pairs(*pair_masks(labels, tags), is_synthetic)
    both_orders = lambda pairs: {(t, i, j) for t in range(2) for a, b in pairs for i, j in ((a, b), (b, a))}
    assert {tuple(x) for x in torch.nonzero(pos).tolist()} == both_orders([(0, 2), (2, 4), (1, 3)])
    assert {tuple(x) for x in torch.nonzero(neg).tolist()} == both_orders([(0, 3), (1, 2), (3, 4)])
    _, stats = ifd_loss(v, labels, tags, is_synthetic=is_synthetic, domains="cross")
    counts = {key: int(value) for key, value in stats.items() if key.startswith("n_")}
    assert counts == {"n_pos": 12, "n_neg": 12, "n_triplets": 14,
                      "n_pos_rr": 0, "n_pos_ss": 0, "n_pos_rs": 12,
                      "n_neg_rr": 0, "n_neg_ss": 0, "n_neg_rs": 12,
                      "n_triplets_rr": 0, "n_triplets_ss": 0, "n_triplets_rs": 14}


@pytest.mark.parametrize("pairing", ["triplet", "mean"])
def test_cross_hinge_by_hand_and_norm_unchanged(pairing):
    """The cross hinge is the hinge over the masks restricted by hand; the norm term is that of all frames."""
    v, labels, tags, is_synthetic = domain_batch()
    v = 0.3 * v                                                                # small: every hinge term > 0
    pos, neg = pair_masks(labels, tags)
    cross = is_synthetic[:, None] != is_synthetic[None, :]                       # [B, B]
    hinge_fn = triplet_hinge if pairing == "triplet" else mean_hinge
    expected = hinge_fn(frame_similarity(v), pos & cross, neg & cross, 0.1)
    loss, stats = ifd_loss(v, labels, tags, pairing=pairing, is_synthetic=is_synthetic, domains="cross")
    assert stats["hinge"].item() == pytest.approx(expected.item(), abs=1e-12) and expected.item() > 0
    _, every = ifd_loss(v, labels, tags, pairing=pairing, is_synthetic=is_synthetic)
    assert stats["norm"].item() == every["norm"].item() == norm_term(v).item()
    assert stats["hinge"].item() != every["hinge"].item()                      # the same-domain pairs did count


@pytest.mark.parametrize("pairing", ["triplet", "mean"])
@pytest.mark.parametrize("seed", range(6))
def test_cross_matches_loop_reference_value_and_gradient(pairing, seed):
    v, labels, tags = random_batch(seed)
    is_synthetic = torch.arange(len(tags)) % 2 == 1                            # identical tag sets span domains
    v_fast, v_ref = v.clone().requires_grad_(), v.clone().requires_grad_()
    loss, stats = ifd_loss(v_fast, labels, tags, pairing=pairing, is_synthetic=is_synthetic, domains="cross")
    hinge, norm, n_pos, n_neg, n_triplets = reference_ifd(v_ref, labels, tags, pairing=pairing,
                                                          is_synthetic=is_synthetic, domains="cross")
    (hinge + norm).backward()
    loss.backward()
    assert (stats["n_pos"], stats["n_neg"], stats["n_triplets"]) == (n_pos, n_neg, n_triplets)
    assert stats["hinge"].item() == pytest.approx(hinge.item(), abs=1e-10)
    torch.testing.assert_close(v_fast.grad, v_ref.grad, atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("pairing", ["triplet", "mean"])
@pytest.mark.parametrize("synthetic", [[False] * 4, [True] * 4, [True, True, False, False]])
def test_cross_hinge_is_zero_with_zero_gradient_without_a_cross_pair(pairing, synthetic):
    """Clips 0, 1 tagged {A} and 2, 3 tagged {B}, every frame active: all of one domain, or each tag set in one
    domain (then every cross pair is negative: no positive). "all" has triplets; "cross" none: hinge 0, and with
    self-similarities of 1 (norm 0) the whole loss is 0 with a zero gradient."""
    tags = torch.tensor([[1., 0.], [1., 0.], [0., 1.], [0., 1.]])
    labels = tags[:, None, :].expand(4, 3, 2).clone()                          # [4, T=3, 2]
    v = (torch.randint(0, 2, (4, 3, 2), generator=torch.Generator().manual_seed(1)).float() * 2 - 1
         ).requires_grad_()                                                    # entries +-1 in 2-D: self dis 1
    is_synthetic = torch.tensor(synthetic)
    _, every = ifd_loss(v, labels, tags, pairing=pairing, is_synthetic=is_synthetic)
    assert every["n_triplets"] > 0
    loss, stats = ifd_loss(v, labels, tags, pairing=pairing, is_synthetic=is_synthetic, domains="cross")
    loss.backward()
    assert stats["n_triplets"] == 0 and stats["hinge"].item() == 0.0 and loss.item() == 0.0
    assert torch.isfinite(v.grad).all() and torch.all(v.grad == 0)


def test_all_is_the_default_and_cross_needs_the_domains():
    v, labels, tags, is_synthetic = domain_batch()
    default, _ = ifd_loss(v, labels, tags, is_synthetic=is_synthetic)
    every, _ = ifd_loss(v, labels, tags, is_synthetic=is_synthetic, domains="all")
    assert torch.equal(default, every)
    with pytest.raises(ValueError, match="is_synthetic"):
        ifd_loss(v, labels, tags, domains="cross")
    with pytest.raises(ValueError, match="domains"):
        ifd_loss(v, labels, tags, is_synthetic=is_synthetic, domains="real")
