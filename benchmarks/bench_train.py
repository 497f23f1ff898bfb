"""Training speed of the sentiment model, and the measurement behind its default pooling.

Speed: the notebook's model (Embedding(10000, 16) → average → Dense(16, relu) → Dense(1)) on
the documented recipe's training rows (SST-2 train + de-leaked rt-polarity + the IMDB sample,
about 18,000 texts of 100 token ids), batch 32, Adam, five epochs, each trainer in a fresh
process on the same arrays:

- embscope's loop (``embscope.train.loop.fit``);
- Keras 3 ``model.fit`` (the notebook's code; the torch backend, as TensorFlow is not installed
  here);
- a straightforward PyTorch loop over a ``DataLoader`` of Python lists.

Reported: median seconds per epoch (the first epoch, which compiles and warms caches, left out),
samples per second and the ratio against Keras.

``--pooling``: the recipe trained with ``pooling="mean"`` and ``"masked"`` for five seeds each
through ``embscope.train.sentiment``; the lower mean validation loss is the default.
``--data``: with and without the IMDB sample, with each standardisation (three seeds each):
what each adds to the cross-domain accuracy.

Run: .venv/bin/python benchmarks/bench_train.py [--pooling | --data]
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from common import fresh_process, table

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SST = DATA / "sst"
KOTZIAS = [
    DATA / "sentiment_labelled_sentences" / f"{name}_labelled.txt"
    for name in ("yelp", "amazon_cells", "imdb")
]
EPOCHS = 5

_LOAD = """
import json, time, numpy as np
arrays = np.load({path!r})
train_ids, train_labels = arrays["train_ids"], arrays["train_labels"]
val_ids, val_labels = arrays["val_ids"], arrays["val_labels"]
epoch_seconds = []
"""
_REPORT = """
print("BENCH_EXTRA " + json.dumps({"epoch_seconds": epoch_seconds, "val_accuracy": val_accuracy}))
"""

_EMBSCOPE = """
import torch
from embscope.train.loop import Schedule, fit
from embscope.train.model import SentimentClassifier
torch.manual_seed(0)
model = SentimentClassifier(10000, 16, 16, 1, "mean")
history = fit(model, (torch.from_numpy(train_ids), torch.from_numpy(train_labels)),
              (torch.from_numpy(val_ids), torch.from_numpy(val_labels)),
              Schedule(epochs=EPOCHS, patience=EPOCHS), generator=torch.Generator().manual_seed(0),
              progress=False)
epoch_seconds = [record["seconds"] for record in history]
val_accuracy = history[-1]["val_accuracy"]
"""

_KERAS = """
import os
os.environ["KERAS_BACKEND"] = "torch"
import keras
keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input(shape=(train_ids.shape[1],), dtype="int64"),
    keras.layers.Embedding(10000, 16),
    keras.layers.GlobalAveragePooling1D(),
    keras.layers.Dense(16, activation="relu"),
    keras.layers.Dense(1),
])
model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True),
              metrics=["accuracy"])

class Timer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None):
        epoch_seconds.append(time.perf_counter() - self.start)

fitted = model.fit(train_ids, train_labels, batch_size=32, epochs=EPOCHS,
                   validation_data=(val_ids, val_labels), callbacks=[Timer()], verbose=0)
val_accuracy = fitted.history["val_accuracy"][-1]
"""

_DATALOADER = """
import torch
from torch import nn
from torch.utils.data import DataLoader
torch.manual_seed(0)
examples = list(zip(train_ids.tolist(), train_labels.tolist()))

def collate(batch):
    ids, labels = zip(*batch)
    return torch.tensor(ids), torch.tensor(labels, dtype=torch.float32)

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(10000, 16)
        self.hidden = nn.Linear(16, 16)
        self.output = nn.Linear(16, 1)
    def forward(self, ids):
        return self.output(torch.relu(self.hidden(self.embedding(ids).mean(1))))[:, 0]

model = Model()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_of = nn.BCEWithLogitsLoss()
loader = DataLoader(examples, batch_size=32, shuffle=True, collate_fn=collate)
for epoch in range(EPOCHS):
    start = time.perf_counter()
    model.train()
    for ids, labels in loader:
        loss = loss_of(model(ids), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(val_ids))
    val_accuracy = float(((logits > 0).long() == torch.from_numpy(val_labels)).float().mean())
    epoch_seconds.append(time.perf_counter() - start)
"""

CONTESTANTS = {
    "embscope (batches sliced from one tensor)": _EMBSCOPE,
    "Keras 3 model.fit (torch backend)": _KERAS,
    "PyTorch DataLoader of Python lists": _DATALOADER,
}


def _recipe_arrays(path: str) -> int:
    """Vectorise the recipe's training and validation rows as ``sentiment`` would; save them."""
    import embscope
    from embscope.train.data import class_numbers, read_sources, resolve_classes, split_rows
    from embscope.train.leakage import remove_overlap

    imdb = embscope.read_texts(
        DATA / "imdb" / "imdb_test_sample_5000.csv", text="text", label="label"
    )
    datasets = read_sources(
        [SST / "stsa.binary.train", DATA / "rt_polarity", imdb], label_names=["neg", "pos"]
    )
    held = [
        t
        for d in read_sources(
            [SST / "stsa.binary.dev", SST / "stsa.binary.test", *KOTZIAS], labelled=False
        )
        for t in d.texts
    ]
    datasets = [remove_overlap(d, held)[0] for d in datasets]
    labels = class_numbers(datasets, resolve_classes(datasets, None))
    texts = [t for d in datasets for t in d.texts]
    train_rows, val_rows, _ = split_rows(texts, 0.1, 0)
    vectorizer = embscope.train.TextVectorizer.fit(
        [texts[i] for i in train_rows], standardization="normalized"
    )
    ids = vectorizer.transform(texts)
    np.savez(
        path,
        train_ids=ids[train_rows],
        train_labels=labels[train_rows],
        val_ids=ids[val_rows],
        val_labels=labels[val_rows],
    )
    return len(train_rows)


def speed() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "recipe.npz")
        rows = _recipe_arrays(path)
        results = {}
        for name, code in CONTESTANTS.items():
            script = _LOAD.format(path=path) + f"EPOCHS = {EPOCHS}\n" + code + _REPORT
            results[name] = fresh_process(script, repeats=1).extra
    keras_epoch = float(
        np.median(results["Keras 3 model.fit (torch backend)"]["epoch_seconds"][1:])
    )
    rows_out = []
    for name, extra in results.items():
        epoch = float(np.median(extra["epoch_seconds"][1:]))
        rows_out.append(
            [
                name,
                f"{epoch:.2f}",
                f"{rows / epoch:,.0f}",
                f"{keras_epoch / epoch:.1f}x",
                f"{extra['val_accuracy']:.3f}",
            ]
        )
    print(f"Training {rows:,} texts x 100 tokens, batch 32 (median of epochs 2-{EPOCHS})")
    print(table(rows_out, ("trainer", "s/epoch", "samples/s", "vs Keras", "val accuracy")))


def _recipe_scores(choices: dict, seed: int, *, with_imdb: bool = True) -> dict:
    """Train the recipe with ``choices`` (options of ``sentiment``) and score it."""
    import embscope

    extra = []
    if with_imdb:
        extra = [
            embscope.read_texts(
                DATA / "imdb" / "imdb_test_sample_5000.csv", text="text", label="label"
            )
        ]
    run = embscope.train.sentiment(
        [SST / "stsa.binary.train", DATA / "rt_polarity", *extra],
        label_names=["neg", "pos"],
        held_out=[SST / "stsa.binary.dev", SST / "stsa.binary.test", *KOTZIAS],
        random_state=seed,
        progress=False,
        **choices,
    )
    best = run.history.loc[run.history["val_loss"].idxmin()]
    scores = [run.score(p, label_names=["neg", "pos"]) for p in KOTZIAS]
    return {
        "best epoch": int(best["epoch"]),
        "val loss": float(best["val_loss"]),
        "SST-2 test": run.score(SST / "stsa.binary.test", label_names=["neg", "pos"]).accuracy,
        "Kotzias": sum(s.accuracy * s.rows for s in scores) / sum(s.rows for s in scores),
    }


def pooling(seeds: int = 5) -> None:
    rows_out, losses = [], {"mean": [], "masked": []}
    for choice in ("mean", "masked"):
        for seed in range(seeds):
            result = _recipe_scores({"pooling": choice}, seed)
            losses[choice].append(result["val loss"])
            rows_out.append(
                [
                    choice,
                    seed,
                    *(f"{v:.4f}" if isinstance(v, float) else v for v in result.values()),
                ]
            )
    print(table(rows_out, ("pooling", "seed", "best epoch", "val loss", "SST-2 test", "Kotzias")))
    for choice, values in losses.items():
        print(f"{choice}: mean validation loss {np.mean(values):.4f} over {seeds} seeds")


def data_and_standardization(seeds: int = 3) -> None:
    """What the IMDB sample and the normalized standardisation each add (means over seeds)."""
    rows_out = []
    for standardization in ("keras", "normalized"):
        for with_imdb in (False, True):
            results = [
                _recipe_scores({"standardization": standardization}, seed, with_imdb=with_imdb)
                for seed in range(seeds)
            ]
            means = {
                k: np.mean([r[k] for r in results]) for k in ("val loss", "SST-2 test", "Kotzias")
            }
            rows_out.append(
                [
                    standardization,
                    "yes" if with_imdb else "no",
                    *(f"{v:.3f}" for v in means.values()),
                ]
            )
    print(f"means over {seeds} seeds")
    print(table(rows_out, ("standardization", "IMDB sample", "val loss", "SST-2 test", "Kotzias")))


if __name__ == "__main__":
    if "--pooling" in sys.argv:
        pooling()
    elif "--data" in sys.argv:
        data_and_standardization()
    else:
        speed()
