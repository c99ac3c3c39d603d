"""PyTorch modules of the IFD/SEDB sound event detection model: config (ModelConfig), encoder, attention (ATP),
ifd, sedb, sed_model (SEDModel, the whole model and its losses), checkpoint (self-describing checkpoints) and
training_data (what a model was trained on, and the warning for a model trained on generated data).
Import the module you need: this package imports nothing, so that reading a ModelConfig never loads torch."""
