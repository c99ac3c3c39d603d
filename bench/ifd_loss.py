"""Benchmark: the batched IFD loss (ifdsed/models/ifd.py) against a straightforward Python-loop reference.

Both compute the same loss (docs/method.md, triplet pairing by default) on one seeded, DCASE-like batch: half
synthetic clips, 1-2 tags per clip out of 10 classes, events as random on/off segments. The script checks that
the two values agree to 1e-5 and prints the speed ratio; the last line of its output is JSON:
    {"batched_ms": ..., "loop_ms": ..., "speedup": ..., "max_abs_diff": ..., ...}
batched_ms and loop_ms are median forward times (the loop computes plain Python floats, so it has no backward
pass at all); batched_fwd_bwd_ms adds the backward pass of the batched loss. Run it on an idle machine: the
medians absorb some noise, not another job on the same cores.

    .venv/bin/python -m bench.ifd_loss [--batch 24] [--frames 250] [--dim 64] [--pairing triplet] [--threads 2]
"""
from __future__ import annotations

import itertools

import torch

from bench.common import arguments, emit, time_ms
from ifdsed.models.ifd import ifd_loss


def make_batch(n_clips: int, n_frames: int, dim: int, n_classes: int = 10, seed: int = 0):
    """Embeddings [B, T, D], frame labels [B, T, C] and clip tags [B, C], DCASE-like."""
    gen = torch.Generator().manual_seed(seed)
    tags = torch.zeros(n_clips, n_classes)
    labels = torch.zeros(n_clips, n_frames, n_classes)
    for i in range(n_clips):  # data generation, not the measured code
        n_tags = int(torch.randint(1, 3, (1,), generator=gen))
        for c in torch.randperm(n_classes, generator=gen)[:n_tags].tolist():
            tags[i, c] = 1
            for _ in range(int(torch.randint(1, 4, (1,), generator=gen))):
                onset = int(torch.randint(0, n_frames, (1,), generator=gen))
                length = int(torch.randint(n_frames // 20, n_frames // 3, (1,), generator=gen))
                labels[i, onset:onset + length, c] = 1
            if not labels[i, :, c].any():
                labels[i, 0, c] = 1
    v = torch.randn(n_clips, n_frames, dim, generator=gen)
    return v, labels, tags


def loop_ifd(v: torch.Tensor, frame_labels: torch.Tensor, clip_tags: torch.Tensor, margin: float = 0.1,
             pairing: str = "triplet") -> float:
    """The IFD loss written the obvious way: loops over clip pairs, frames and triplets (float64 numbers)."""
    n_clips, n_frames, dim = v.shape
    vv = v.double().tolist()
    tags = [frozenset(torch.nonzero(clip_tags[i]).flatten().tolist()) for i in range(n_clips)]
    label = [[frozenset(torch.nonzero(frame_labels[i, t]).flatten().tolist()) for t in range(n_frames)]
             for i in range(n_clips)]

    def dis(i, j, t):
        return sum(a * b for a, b in zip(vv[i][t], vv[j][t])) / dim

    positives, negatives = {}, {}
    for i, j in itertools.permutations(range(n_clips), 2):
        if tags[i] == tags[j]:
            for t in range(n_frames):
                if label[i][t] and label[i][t] == label[j][t]:
                    positives.setdefault((i, t), []).append(dis(i, j, t))
        elif not tags[i] & tags[j]:
            for t in range(n_frames):
                if label[i][t] and label[j][t]:
                    negatives.setdefault((i, t), []).append(dis(i, j, t))
    if pairing == "triplet":
        terms = [max(0.0, neg - pos + margin)
                 for key, pos_list in positives.items() for pos in pos_list for neg in negatives.get(key, [])]
    else:
        terms = []
        for t in range(n_frames):
            pos = [d for (_, tt), ds in positives.items() if tt == t for d in ds]
            neg = [d for (_, tt), ds in negatives.items() if tt == t for d in ds]
            if pos and neg:
                terms.append(max(0.0, sum(neg) / len(neg) - sum(pos) / len(pos) + margin))
    hinge = sum(terms) / len(terms) if terms else 0.0
    norm = sum((dis(i, i, t) - 1) ** 2 for i in range(n_clips) for t in range(n_frames)) / (n_clips * n_frames)
    return hinge + norm


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--batch", type=int, default=24)
    parser.add_argument("--frames", type=int, default=250)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--pairing", choices=["triplet", "mean"], default="triplet")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    v, labels, tags = make_batch(args.batch, args.frames, args.dim)
    loss, stats = ifd_loss(v, labels, tags, pairing=args.pairing)
    print(f"B={args.batch} T={args.frames} D={args.dim} pairing={args.pairing} threads={args.threads}: "
          f"{int(stats['n_pos'])} positive and {int(stats['n_neg'])} negative frame pairs, "
          f"{int(stats['n_triplets'])} triplets")

    reference = loop_ifd(v, labels, tags, pairing=args.pairing)
    loop_ms = time_ms(lambda: loop_ifd(v, labels, tags, pairing=args.pairing), 3)
    batched_ms = time_ms(lambda: ifd_loss(v, labels, tags, pairing=args.pairing), args.repeats)
    v_grad = v.clone().requires_grad_()
    fwd_bwd_ms = time_ms(lambda: ifd_loss(v_grad, labels, tags, pairing=args.pairing)[0].backward(), args.repeats)

    diff = abs(loss.item() - reference)
    print(f"batched {loss.item():.6f}  loop {reference:.6f}  |diff| {diff:.2e}")
    print(f"batched forward {batched_ms:.2f} ms (forward+backward {fwd_bwd_ms:.2f} ms), loop {loop_ms:.0f} ms")
    if diff > 1e-5:
        raise SystemExit(f"batched and loop IFD losses differ by {diff:.3g} > 1e-5")
    emit({"batched_ms": round(batched_ms, 3), "loop_ms": round(loop_ms, 1),
          "speedup": round(loop_ms / batched_ms, 1), "max_abs_diff": diff,
          "batched_fwd_bwd_ms": round(fwd_bwd_ms, 3), "batch": args.batch, "frames": args.frames,
          "dim": args.dim, "pairing": args.pairing, "threads": args.threads,
          "n_triplets": int(stats["n_triplets"])})


if __name__ == "__main__":
    main()
