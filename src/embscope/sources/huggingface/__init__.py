"""Hugging Face checkpoints: the token-embedding matrix (and an untied output head) read straight
from the weight files, without building the model.

A checkpoint is a local directory, one ``.safetensors`` file inside one, or a hub id
(``org/name``), for which only the config, the tokenizer files, the safetensors index and the
shard(s) holding the embedding are downloaded (``hub``). ``*.safetensors`` files are
memory-mapped: the header is parsed here and ``np.memmap`` opens the tensor in place, so F32, F16
and BF16 matrices are never copied (BF16, which numpy lacks, stays mapped as its 16-bit patterns
and is read as float32 a block at a time: ``embscope.search.kernels.BFloat16Rows``).
``pytorch_model.bin`` needs torch and is read with ``torch.load(weights_only=True, mmap=True)``
(``weights``). No file may lead outside the checkpoint (``files``).

The tensor is found by shape, and whether the head is tied is detected from the files, never
assumed (``tensors``); ``checkpoint`` puts the parts together into a space.
"""

from .checkpoint import (
    MATRICES,
    Checkpoint,
    assemble_checkpoint,
    checkpoint_space,
    load_huggingface,
    read_checkpoint,
)
from .weights import WeightTensor, read_safetensors_header, read_torch_weights

__all__ = [
    "MATRICES",
    "Checkpoint",
    "WeightTensor",
    "assemble_checkpoint",
    "checkpoint_space",
    "load_huggingface",
    "read_checkpoint",
    "read_safetensors_header",
    "read_torch_weights",
]
