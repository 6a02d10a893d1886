"""DACS-HW: congestion management for low-voltage grids with hybrid heat pumps."""

# Kept equal to pyproject.toml's version by tests/test_versions.py; reading it
# from the installed metadata costs a third of a second at every start.
__version__ = "0.1.0"
