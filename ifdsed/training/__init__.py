"""Training of one seed: batches, the loop, model selection, resume, data-parallel runs."""
