"""The tokenizer files of a Hugging Face checkpoint: row keys, readable labels, per-row metadata,
and a function that splits a word into the model's own pieces.

Keys are the raw token strings (``Ġhello``, ``##ing``, ``▁hello``, ``<0xF5>``); labels are what a
person reads (``␣hello``, ``##ing``, ``␣hello``, ``<0xF5>``; ``labels``). ``reader`` tries the
files in this order: ``tokenizer.json`` (``tokenizer_json``), ``vocab.json`` + ``merges.txt``
(byte-level BPE), ``vocab.txt`` (WordPiece), ``*.tiktoken`` (``vocab_files``). ``table`` turns a
vocabulary into the keys, labels and metadata of a matrix's rows. The ``tokenizers`` (and
``tiktoken``) objects that split words are built on first use only, so loading a space stays
cheap.
"""

from .labels import KINDS, STYLES, byte_level_bytes, byte_level_key, readable_label
from .reader import read_tokenizer, read_tokenizer_file
from .table import TokenizerVocabulary, TokenTable, token_table

__all__ = [
    "KINDS",
    "STYLES",
    "TokenTable",
    "TokenizerVocabulary",
    "byte_level_bytes",
    "byte_level_key",
    "read_tokenizer",
    "read_tokenizer_file",
    "readable_label",
    "token_table",
]
