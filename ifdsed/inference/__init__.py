"""One detector from audio or stored features: normalisation, model, post-processing."""
