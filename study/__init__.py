"""Recipes of the project's experiments (the IFD study, docs/ifd-study.md): run as modules from the project root."""
