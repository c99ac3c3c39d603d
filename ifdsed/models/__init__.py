"""PyTorch modules of the IFD/SEDB sound event detection model: config (ModelConfig), encoder, attention (ATP),
ifd, sedb, sed_model (SEDModel, the whole model and its losses) and checkpoint (self-describing checkpoints).
Import the module you need: this package imports nothing, so that reading a ModelConfig never loads torch."""
