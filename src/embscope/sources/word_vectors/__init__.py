"""Word-vector files: word2vec binary and text, GloVe text (no header), fastText ``.vec``.

Reading works on large blocks, never one Python call per number (``text``, ``binary``, sharing
``reading``); ``load`` checks the options, picks the reader and resolves repeated keys; ``writer``
writes word2vec files. Gzip-compressed files are read and written transparently (``.gz`` on
writing). Nothing a file declares is trusted further than its size allows (``files``).
"""

from .files import has_word2vec_header
from .load import FORMATS, ON_DUPLICATE, load_word_vectors
from .writer import write_word2vec

__all__ = ["FORMATS", "ON_DUPLICATE", "has_word2vec_header", "load_word_vectors", "write_word2vec"]
