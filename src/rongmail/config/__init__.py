"""Typed, documented, frozen settings (DESIGN rule 9). See ``settings.py`` and ``load.py``."""

from rongmail.config.load import load, load_file
from rongmail.config.settings import Settings

__all__ = ["Settings", "load", "load_file"]
