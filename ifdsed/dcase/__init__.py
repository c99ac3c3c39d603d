"""The real DCASE data: metadata tables, their import, and the DCASE 2018 label statistics."""
