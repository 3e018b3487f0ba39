"""pybuild12: CPython with working sub-interpreters, built from pinned sources."""

__version__ = "0.1.0"
