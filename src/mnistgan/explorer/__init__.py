"""The explorer page: the generator exported into one self-contained HTML file (export.py)."""
