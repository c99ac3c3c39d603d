"""Log-mel features: the extractor, frame labels and the memory-mapped feature store."""
