"""The sound event detection branch's loss (ifdsed.models.sedb)."""
import torch

from ifdsed.models.sedb import sedb_loss


def test_sedb_loss_reads_synthetic_clips_only():
    torch.manual_seed(0)
    logits, labels = torch.randn(4, 5, 3, requires_grad=True), (torch.rand(4, 5, 3) > 0.5).float()
    is_synthetic = torch.tensor([True, False, True, False])
    garbage = labels.clone()
    garbage[~is_synthetic] = 1 - garbage[~is_synthetic]
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits[is_synthetic], labels[is_synthetic])
    torch.testing.assert_close(sedb_loss(logits, labels, is_synthetic), expected)
    torch.testing.assert_close(sedb_loss(logits, garbage, is_synthetic), expected)
    none = sedb_loss(logits, labels, torch.zeros(4, dtype=torch.bool))
    none.backward()
    assert none.item() == 0.0 and torch.all(logits.grad == 0)
