"""The full model of the paper (Fig. 1): a shared encoder and up to three branches.

    features [B, T, n_mels] -> FeatureEncoder -> x [B, T, emb_dim] -+-> ATP head   (always; the only test-time branch)
                                                                    +-> SEDB head  (config.sedb)
                                                                    +-> IFD projection (config.ifd)

Total loss: L_ATP + lambda_ifd * L_IFD + lambda_sedb * L_SEDB, with
  L_ATP:  BCE between clip probabilities and clip tags, every clip (real and synthetic), mean over clips and classes;
  L_SEDB: frame BCE on the synthetic clips' strong labels (ifdsed/models/sedb.py);
  L_IFD:  inter-frame distance loss (ifdsed/models/ifd.py) with the strong labels of synthetic clips and the pseudo
          strong labels of real weak clips (ATP frame probabilities > theta, gated by the clip tags, detached), or with
          config.ifd_labels "oracle" their hidden frame labels (a diagnostic upper bound); over every frame pair,
          or with config.ifd_domains "cross" over real-synthetic pairs only.

A training batch is a dict:
  features      [B, T, n_mels] float  log-mel features
  clip_tags     [B, C] float          0/1 weak labels of every clip
  frame_labels  [B, T, C] float       0/1 strong labels (synthetic clips; zeros for weak clips, never read)
  is_synthetic  [B] bool              which clips carry strong labels
  clip_index    [B] int64             each clip's row in its own set (not read by the losses; for diagnostics)
  oracle_frame_labels [B, T, C] float 0/1 hidden frame labels of the weak clips (zeros for synthetic clips, never
                                      read); only with config.ifd_labels "oracle", where IFD alone reads them
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ifdsed.models.attention import AttentionPooling
from ifdsed.models.config import ModelConfig
from ifdsed.models.encoder import FeatureEncoder
from ifdsed.models.ifd import IFDProjection, ifd_loss, pseudo_strong_labels
from ifdsed.models.sedb import SEDBHead, sedb_loss


class SEDModel(nn.Module):
    """Encoder + ATP head (+ SEDB head) (+ IFD projection), as chosen by `config`."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.encoder = FeatureEncoder(config)
        self.atp = AttentionPooling(config)
        self.sedb = SEDBHead(config.emb_dim, config.n_classes) if config.sedb else None
        self.ifd = IFDProjection(config.emb_dim, config.ifd_out_dim) if config.ifd else None

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """features [B, T, n_mels] -> dict of
        embeddings [B, T, emb_dim]; frame_logits, frame_probs, attention [B, T, C]; clip_logits, clip_probs [B, C];
        sedb_logits [B, T, C] if config.sedb; ifd_embeddings [B, T, ifd_dim] if config.ifd."""
        x = self.encoder(features)                        # [B, T, emb_dim]
        outputs = {"embeddings": x, **self.atp(x)}        # ATP: [B, T, C] and [B, C] tensors
        if self.sedb is not None:
            outputs["sedb_logits"] = self.sedb(x)         # [B, T, C]
        if self.ifd is not None:
            outputs["ifd_embeddings"] = self.ifd(x)       # [B, T, ifd_dim]
        return outputs

    def losses(self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor],
               lambda_ifd: float | None = None) -> dict[str, torch.Tensor]:
        """The training losses of a batch.

        Returns "atp", "sedb" (if config.sedb), "ifd" (if config.ifd) and "total" (the weighted sum to
        back-propagate); with IFD also its two terms "ifd_hinge" and "ifd_norm", the detached statistics
        "ifd_n_pos", "ifd_n_neg", "ifd_n_triplets", and the counts by domain pairing "ifd_n_pos_rr" ...
        "ifd_n_triplets_rs" (`ifdsed.models.ifd.domain_pair_counts`).
        lambda_ifd: the IFD weight of this step, config.lambda_ifd when None (0 during an IFD warm-up: the term
        is still computed, so the projection stays in the graph and its statistics are logged)."""
        cfg = self.config
        lambda_ifd = cfg.lambda_ifd if lambda_ifd is None else lambda_ifd
        clip_tags = batch["clip_tags"].to(outputs["clip_logits"].dtype)                     # [B, C]
        is_synthetic = batch["is_synthetic"].bool()                                         # [B]
        result = {"atp": F.binary_cross_entropy_with_logits(outputs["clip_logits"], clip_tags)}
        total = result["atp"]
        if self.sedb is not None:
            result["sedb"] = sedb_loss(outputs["sedb_logits"], batch["frame_labels"].to(clip_tags.dtype),
                                       is_synthetic)
            total = total + cfg.lambda_sedb * result["sedb"]
        if self.ifd is not None:
            weak = self.weak_frame_labels(outputs, batch, clip_tags)                         # [B, T, C]
            frame_labels = torch.where(is_synthetic[:, None, None],
                                       batch["frame_labels"].to(weak.dtype), weak)           # [B, T, C]
            result["ifd"], stats = ifd_loss(outputs["ifd_embeddings"], frame_labels, clip_tags,
                                            margin=cfg.ifd_margin, pairing=cfg.ifd_pairing, is_synthetic=is_synthetic,
                                            domains=cfg.ifd_domains)
            result.update({f"ifd_{key}": value for key, value in stats.items()})
            total = total + lambda_ifd * result["ifd"]
        result["total"] = total
        return result

    def weak_frame_labels(self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor],
                          clip_tags: torch.Tensor) -> torch.Tensor:
        """The IFD frame labels of the batch's weak clips, [B, T, C] (rows of synthetic clips are not used):
        pseudo strong labels from outputs["frame_probs"] and the clip tags [B, C] (config.ifd_labels "pseudo"), or
        batch["oracle_frame_labels"], the hidden ones ("oracle"; the training loop adds them to the batch)."""
        if self.config.ifd_labels == "pseudo":
            return pseudo_strong_labels(outputs["frame_probs"], clip_tags, self.config.ifd_theta)  # [B, T, C]
        if "oracle_frame_labels" not in batch:
            raise ValueError("model.ifd_labels is oracle but the batch has no oracle_frame_labels (the weak clips' "
                             "hidden frame labels, which the training loop adds)")
        return batch["oracle_frame_labels"].to(outputs["frame_probs"].dtype)                       # [B, T, C]
