"""PyTorch modules of the IFD/SEDB sound event detection model (see models/sed_model.py for the overview)."""
from models.attention import AttentionPooling
from models.checkpoint import Checkpoint, load, save
from models.config import ModelConfig
from models.encoder import FeatureEncoder
from models.ifd import IFDProjection, ifd_loss, pair_masks, pseudo_strong_labels
from models.sed_model import SEDModel
from models.sedb import SEDBHead, sedb_loss

__all__ = [
    "AttentionPooling", "Checkpoint", "FeatureEncoder", "IFDProjection", "ModelConfig", "SEDBHead", "SEDModel",
    "ifd_loss", "load", "pair_masks", "pseudo_strong_labels", "save", "sedb_loss",
]
