"""DACS-HW: congestion management for low-voltage grids with hybrid heat pumps."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dacs-hw")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
