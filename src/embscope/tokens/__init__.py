"""Token forensics: find under-trained and glitch tokens ("SolidGoldMagikarp") in a vocabulary.

``scan(source)`` computes every indicator the source allows (Land & Bartolo, "Fishing for
Magikarp", 2024; Rumbelow & Watkins' centroid distance), audits the tokenizer, and returns a
``TokenReport``: ``table``, ``candidates``, ``summary()``, ``figure()``, ``save(path)``.
"""

from .audit import CATEGORIES
from .indicators import DESCRIPTIONS as INDICATORS
from .references import REFERENCE_BYTES, UNUSED_UTF8_BYTES
from .report import TokenReport
from .scan import DEFAULT_THRESHOLD, scan

__all__ = [
    "CATEGORIES",
    "DEFAULT_THRESHOLD",
    "INDICATORS",
    "REFERENCE_BYTES",
    "UNUSED_UTF8_BYTES",
    "TokenReport",
    "scan",
]
