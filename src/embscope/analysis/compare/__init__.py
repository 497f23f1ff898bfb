"""Two spaces compared over the keys both hold: neighbour overlap, similarity correlation,
linear CKA, the Procrustes alignment of one onto the other, and the keys that moved."""

from .comparison import Comparison, compare
from .figure import JointLayout, joint_layout
from .results import ComparisonSummary, SideBySide

__all__ = [
    "Comparison",
    "ComparisonSummary",
    "JointLayout",
    "SideBySide",
    "compare",
    "joint_layout",
]
