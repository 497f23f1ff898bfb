"""GGUF files (llama.cpp, Ollama's blobs, LM Studio's folder): the token-embedding matrix and the
tokenizer that the file's own metadata describes.

``header`` parses and checks the metadata and tensor table, ``matrix`` maps or dequantizes the
embedding (into the cache), ``tokenizer`` builds the vocabulary from ``tokenizer.ggml.*``, and
``reader`` puts them together into a space.
"""

from .header import (
    INPUT_TENSOR,
    OUTPUT_TENSOR,
    GGUFHeader,
    GGUFTensor,
    describe_gguf,
    read_gguf_header,
)
from .reader import MATRICES, load_gguf
from .tokenizer import TOKENIZER_MODELS, gguf_vocabulary

__all__ = [
    "INPUT_TENSOR",
    "MATRICES",
    "OUTPUT_TENSOR",
    "TOKENIZER_MODELS",
    "GGUFHeader",
    "GGUFTensor",
    "describe_gguf",
    "gguf_vocabulary",
    "load_gguf",
    "read_gguf_header",
]
