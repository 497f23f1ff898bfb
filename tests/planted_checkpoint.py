"""A small, really trained GPT-2 style checkpoint with a known answer for glitch-token tests.

Detecting under-trained ("glitch") tokens can only be tested honestly on a model whose training
left some embedding rows untouched, and with a known list of which ones. Real checkpoints are too
large for the suite and their answer is not known, while random matrices have no trained rows at
all. This helper trains a byte-level BPE tokenizer and a tiny causal LM on the real sentiment
sentences in ``shared/data`` for a few seconds, and leaves two kinds of tokens untrained, the
way real vocabularies get them:

* ``planted_ids``: ordinary, frequent word tokens taken out of the training stream (every
  occurrence deleted), so their input rows stay bit-identical to their initialisation and their
  output rows only ever receive the softmax's push-down, as a token the data never holds does;
* ``unused_byte_ids``: the single-byte tokens for 0xF5..0xFF, which the byte-level alphabet holds
  but valid UTF-8 never produces: untrained the same way, by nature.

Other tokens can be untrained too (merges that never survive to the final tokenisation, rare
bytes): ``token_counts`` says how often each token was seen, so a test can compare the planted
rows with the rows that were really trained.

The directory is an ordinary Hugging Face checkpoint (``config.json``, ``model.safetensors``,
``tokenizer.json``, ``tokenizer_config.json``) that ``transformers`` and ``embscope.load`` open
offline. torch, transformers and tokenizers are imported inside the builder so that collecting
the tests needs none of them.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TEXT_FILES = (
    SHARED_DATA / "sst" / "stsa.binary.train",
    SHARED_DATA / "rt_polarity" / "rt-polarity.pos",
    SHARED_DATA / "rt_polarity" / "rt-polarity.neg",
)

EOS = "<|endoftext|>"
VOCAB_SIZE = 1000
PLANTED_COUNT = 20
# Bytes that UTF-8 never uses: their tokens exist only because the alphabet holds all 256 bytes.
UNUSED_BYTES = range(0xF5, 0x100)

CONTEXT = 64
WIDTH = 32
BATCH = 16
STEPS = 300
LEARNING_RATE = 3e-3
# A planted token must occur often enough that, unplanted, its row would certainly be trained.
MIN_PLANTED_OCCURRENCES = 50


@dataclass(frozen=True)
class PlantedCheckpoint:
    directory: Path
    planted_ids: tuple[int, ...]
    unused_byte_ids: tuple[int, ...]
    vocab_size: int
    # how often each token id occurs in the stream the model was trained on
    token_counts: tuple[int, ...]


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-to-character table: the character that stands for each byte in the vocab."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    mapping = {b: chr(b) for b in printable}
    shift = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + shift)
            shift += 1
    return mapping


def read_sentences(files: tuple[Path, ...] = TEXT_FILES) -> list[str]:
    sentences: list[str] = []
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"the shared data set file is missing: {path}")
        # the SST files start each line with its label; the rt-polarity ones have none
        labelled = path.name.startswith("stsa.")
        for line in path.read_text(encoding="utf-8").splitlines():
            if labelled:
                line = line.partition(" ")[2]
            line = line.strip()
            if line:
                sentences.append(line)
    return sentences


def build_planted_checkpoint(directory: Path, *, seed: int = 0) -> PlantedCheckpoint:
    """Train a tokenizer and a tiny GPT-2 on real text in ``directory`` (a few seconds on CPU),
    leaving ``planted_ids`` and ``unused_byte_ids`` untrained; see the module docstring."""
    import torch
    from safetensors.torch import load_file
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import GPT2Config, GPT2LMHeadModel

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sentences = read_sentences()

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[EOS],
        show_progress=False,
    )
    tokenizer.train_from_iterator(sentences, trainer=trainer)
    tokenizer.save(str(directory / "tokenizer.json"))
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": EOS,
        "eos_token": EOS,
        "unk_token": EOS,
    }
    (directory / "tokenizer_config.json").write_text(
        json.dumps(tokenizer_config, indent=2), encoding="utf-8"
    )

    vocab = tokenizer.get_vocab()
    vocab_size = tokenizer.get_vocab_size()
    eos_id = vocab[EOS]
    byte_chars = bytes_to_unicode()
    unused_byte_ids = tuple(vocab[byte_chars[b]] for b in UNUSED_BYTES)

    # One stream of documents separated by the end-of-text token, as GPT-2 was trained.
    stream: list[int] = []
    for encoding in tokenizer.encode_batch(sentences):
        stream.extend(encoding.ids)
        stream.append(eos_id)
    counts = Counter(stream)
    if set(unused_byte_ids) & counts.keys():
        raise RuntimeError("a byte UTF-8 never uses occurs in the tokenised text")

    # Whole words after a space (" film", " never") that the model sees often: untouched rows
    # for these can only come from the planting, not from a lack of data.
    space = byte_chars[ord(" ")]
    candidates = sorted(
        token_id
        for token, token_id in vocab.items()
        if counts[token_id] >= MIN_PLANTED_OCCURRENCES
        and token.startswith(space)
        and len(token) > 3
        and token[1:].isascii()
        and token[1:].isalpha()
    )
    if len(candidates) < PLANTED_COUNT:
        raise RuntimeError(f"only {len(candidates)} frequent word tokens to plant")
    planted_ids = tuple(sorted(random.Random(seed).sample(candidates, PLANTED_COUNT)))
    kept_out = set(planted_ids)
    stream = [token_id for token_id in stream if token_id not in kept_out]
    counts = Counter(stream)

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=vocab_size,
        # room for the verification prompts, which run to a few hundred tokens
        n_positions=512,
        n_embd=WIDTH,
        n_layer=2,
        n_head=2,
        tie_word_embeddings=False,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
    )
    model = GPT2LMHeadModel(config)
    embedding = model.transformer.wte.weight
    head = model.lm_head.weight
    if embedding.data_ptr() == head.data_ptr():
        raise RuntimeError("the input embedding and the output head are tied")
    planted = torch.tensor(planted_ids)
    initial_embedding = embedding.detach()[planted].clone()

    # weight_decay=0: decoupled decay would shrink the unseen input rows; without it a row that
    # is never looked up has a zero gradient from the first step, so its Adam moments stay zero
    # and each update is 0 / (sqrt(0) + eps) = 0: the row never moves by a single bit.
    optimiser = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.0)
    data = torch.tensor(stream)
    generator = torch.Generator().manual_seed(seed)
    # Ops this small gain nothing from intra-op threads, and on a busy two-core machine (the
    # suite's other workers) the thread hand-offs made each step ten times slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model.train()
        for _ in range(STEPS):
            starts = torch.randint(0, len(data) - CONTEXT, (BATCH,), generator=generator)
            batch = torch.stack([data[s : s + CONTEXT] for s in starts.tolist()])
            loss = model(input_ids=batch, labels=batch).loss
            optimiser.zero_grad(set_to_none=False)
            loss.backward()
            optimiser.step()
        model.eval()
    finally:
        torch.set_num_threads(threads)

    model.save_pretrained(directory)
    saved = load_file(str(directory / "model.safetensors"))
    if not torch.equal(saved["transformer.wte.weight"][planted], initial_embedding):
        raise RuntimeError("training moved the planted input rows")

    return PlantedCheckpoint(
        directory=directory,
        planted_ids=planted_ids,
        unused_byte_ids=unused_byte_ids,
        vocab_size=vocab_size,
        token_counts=tuple(counts.get(i, 0) for i in range(vocab_size)),
    )
