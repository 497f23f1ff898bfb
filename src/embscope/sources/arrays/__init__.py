"""NumPy arrays (``.npy``, ``.npz``) and tables (Parquet, CSV) with a vector column, both ways:
``npy`` and ``tables`` read them, ``writers`` writes them, ``marker`` is what a written table
records about itself, and ``query_vectors`` reads the vectors a user queries with."""

from .npy import load_array
from .query_vectors import read_query_vectors
from .tables import load_table
from .writers import write_npy, write_parquet

__all__ = ["load_array", "load_table", "read_query_vectors", "write_npy", "write_parquet"]
