"""The ``rongmail`` command line (a stable contract: other issues and outside checks drive it)."""
