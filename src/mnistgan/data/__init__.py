"""The raw IDX files and the prepared splits."""
