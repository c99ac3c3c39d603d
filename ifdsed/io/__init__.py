"""Reading and writing: audio files and their checks, DESED tables, atomic writes."""
