"""A real-audio sanity check built from recordings that Debian and PyPI packages ship."""
