"""Scoring: sed_eval and PSDS metrics, the evaluation sets, the domain-gap probe, summaries."""
