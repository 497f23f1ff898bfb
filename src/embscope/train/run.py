"""A trained sentiment model with its vocabulary and history: predict, score, explore, save.

``save(directory)`` writes what ``embscope.load`` reads as a space (``sources/trained.py``)
and what ``embscope.train.load`` reads back as a run: the weights as safetensors, the
vocabulary as Keras writes it, and the configuration, history and data report as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidParameterError, MalformedFileError
from ..sources.trained import (
    CONFIG_FILE,
    FORMAT,
    VOCABULARY_FILE,
    WEIGHTS_FILE,
    is_trained_model,
    read_config,
    trained_space,
)
from .vectorizer import TextVectorizer

if TYPE_CHECKING:
    import pandas as pd

    from ..space import EmbeddingSpace
    from .model import SentimentClassifier


@dataclass(frozen=True)
class Score:
    """How a model does on a labelled set: accuracy, mean loss, rows, and the confusion matrix
    (true classes down, predicted across)."""

    accuracy: float
    loss: float
    rows: int
    confusion: pd.DataFrame = field(repr=False)

    def _repr_html_(self) -> str:
        from ..notebook_html import card, table

        matrix = self.confusion.copy()
        matrix.index = [f"true {name}" for name in matrix.index]
        matrix.columns = [f"predicted {name}" for name in matrix.columns]
        return card(
            "Score",
            [
                ("accuracy", f"{self.accuracy:.4f}"),
                ("mean loss", f"{self.loss:.4f}"),
                ("rows", f"{self.rows:,}"),
            ],
            body=table(matrix.reset_index(names=""), caption="confusion matrix"),
        )


@dataclass
class SentimentRun:
    """A trained model: ``history``, ``space``, ``predict``, ``score``, ``save``.

    ``config`` records every setting the run used (chosen or given) and ``data`` what went
    into training: the sources, rows read, rows removed because they hold held-out texts, and
    the training/validation split.
    """

    model: SentimentClassifier = field(repr=False)
    vectorizer: TextVectorizer = field(repr=False)
    classes: tuple[str, ...]
    history: pd.DataFrame = field(repr=False)
    config: dict[str, Any] = field(repr=False)
    data: dict[str, Any] = field(repr=False)
    token_counts: np.ndarray = field(repr=False)
    name: str = "sentiment"

    @property
    def best_epoch(self) -> int:
        """The epoch whose weights the model holds (lowest validation loss)."""
        return int(self.history.loc[self.history["val_loss"].idxmin(), "epoch"])

    @property
    def embedding(self) -> np.ndarray:
        """The embedding matrix, padding row 0 included (vocabulary order)."""
        return self.model.embedding.weight.detach().cpu().numpy().copy()

    @property
    def space(self) -> EmbeddingSpace:
        """The learned embedding as a space: one row per vocabulary token after padding."""
        return trained_space(
            self.embedding,
            self.vectorizer.vocabulary,
            self.token_counts,
            standardization=self.vectorizer.standardization,
            name=self.name,
        )

    def _repr_html_(self) -> str:
        """The model, the data, the loss and accuracy curves by epoch (the best epoch
        marked), and the history table."""
        return run_html(self)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """A (len(texts), n_classes) array of class probabilities."""
        import torch

        texts = _check_texts(texts)
        device = next(self.model.parameters()).device
        self.model.eval()
        with torch.no_grad():
            logits = self.model(torch.from_numpy(self.vectorizer.transform(texts)).to(device))
            if logits.shape[1] == 1:
                positive = torch.sigmoid(logits[:, 0])
                result = torch.stack([1 - positive, positive], dim=1)
            else:
                result = torch.softmax(logits, dim=1)
        return result.cpu().numpy()

    def predict(self, texts: Sequence[str] | str) -> pd.DataFrame:
        """One row per text: the text, the predicted class, its probability, and one
        ``p(<class>)`` column per class."""
        import pandas as pd

        texts = [texts] if isinstance(texts, str) else list(texts)
        probabilities = self.probabilities(texts)
        best = probabilities.argmax(1)
        frame = pd.DataFrame(
            {
                "text": texts,
                "prediction": [self.classes[i] for i in best],
                "probability": probabilities[np.arange(len(texts)), best],
            }
        )
        for number, name in enumerate(self.classes):
            frame[f"p({name})"] = probabilities[:, number]
        return frame

    def score(
        self,
        data: Any,
        *,
        text: str | int | None = None,
        label: str | int | None = None,
        label_names: Any = None,
    ) -> Score:
        """Accuracy on a labelled set: a path ``read_texts`` reads (with ``text``, ``label``,
        ``label_names``) or a ``TextDataset``; its labels must name this model's classes."""
        import pandas as pd
        import torch

        from .data import class_numbers, read_sources
        from .loop import evaluate

        datasets = read_sources(data, text=text, label=label, label_names=label_names)
        texts = [t for dataset in datasets for t in dataset.texts]
        numbers = class_numbers(datasets, list(self.classes))
        device = next(self.model.parameters()).device
        ids = torch.from_numpy(self.vectorizer.transform(texts)).to(device)
        truth = torch.from_numpy(numbers).to(device)
        loss, accuracy = evaluate(self.model, ids, truth)
        predicted = self.probabilities(texts).argmax(1)
        confusion = pd.crosstab(
            pd.Categorical([self.classes[i] for i in numbers], categories=self.classes),
            pd.Categorical([self.classes[i] for i in predicted], categories=self.classes),
            rownames=["true"],
            colnames=["predicted"],
            dropna=False,
        )
        return Score(accuracy=accuracy, loss=loss, rows=len(texts), confusion=confusion)

    def save(self, directory: str | Path) -> Path:
        """Write the run to ``directory`` (replaced whole, atomically): ``model.safetensors``,
        ``vocabulary.txt`` and ``embscope-train.json``."""
        from safetensors.numpy import save_file

        directory = check_output_directory(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}."))
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; a saved run follows the umask
        try:
            weights = {
                name: tensor.detach().cpu().numpy().copy()
                for name, tensor in self.model.state_dict().items()
            }
            save_file(weights, staging / WEIGHTS_FILE, metadata={"format": FORMAT})
            self.vectorizer.save(staging / VOCABULARY_FILE)
            (staging / CONFIG_FILE).write_text(json.dumps(self._manifest(), indent=1) + "\n")
            for written in staging.iterdir():  # safetensors writes its file private
                written.chmod(0o666 & ~umask)
            _replace_directory(staging, directory)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return directory

    def _manifest(self) -> dict[str, Any]:
        from .. import __version__

        return {
            "format": FORMAT,
            "embscope": __version__,
            "classes": list(self.classes),
            **self.config,
            "standardization": self.vectorizer.standardization,
            "sequence_length": self.vectorizer.sequence_length,
            "best_epoch": self.best_epoch,
            "history": self.history.to_dict(orient="records"),
            "data": self.data,
            "token_counts": [int(c) for c in self.token_counts],
        }


def run_html(run: SentimentRun) -> str:
    """``SentimentRun._repr_html_``: two small SVG charts and tables, no JavaScript."""
    from ..notebook_html import BLUE, ORANGE, card, line_chart, table

    history = run.history
    config, data = run.config, run.data
    rows = [
        (
            "model",
            f"Embedding({config.get('vocab_size', len(run.vectorizer)):,}, "
            f"{config.get('dim', '?')}) → {config.get('pooling', '?')} pooling → "
            f"Dense({config.get('hidden', '?')}, relu) → {len(run.classes)} classes "
            f"({', '.join(run.classes)})",
        ),
    ]
    if "training_rows" in data:
        sources = ", ".join(str(item.get("source")) for item in data.get("sources", []))
        rows.append(
            (
                "data",
                f"{data.get('rows', 0):,} texts from {sources}: {data['training_rows']:,} to "
                f"train, {data.get('validation_rows', 0):,} to validate",
            )
        )
    charts = ""
    if len(history):
        best = history.loc[history["val_loss"].idxmin()]
        rows.append(
            (
                "best epoch",
                f"{int(best['epoch'])} of {len(history)}: val_loss {best['val_loss']:.4f}, "
                f"val_accuracy {best['val_accuracy']:.4f} (accuracy {best['accuracy']:.4f}); "
                "the model holds its weights",
            )
        )
        rows.append(("seconds", f"{history['seconds'].sum():.1f}"))
        epochs = history["epoch"].to_numpy()
        marker = int(best["epoch"])
        charts = (
            "<div style='display:flex;flex-wrap:wrap;gap:1em;margin:6px 0'>"
            + line_chart(
                epochs,
                [("loss", history["loss"], BLUE), ("loss (val)", history["val_loss"], ORANGE)],
                title="loss by epoch",
                marker=marker,
                marker_label="best",
            )
            + line_chart(
                epochs,
                [
                    ("accuracy", history["accuracy"], BLUE),
                    ("accuracy (val)", history["val_accuracy"], ORANGE),
                ],
                title="accuracy by epoch",
                marker=marker,
                marker_label="best",
            )
            + "</div>"
        )
    body = charts + table(history, rows=30, caption="history")
    return card(f"SentimentRun {run.name!r}", rows, body=body)


def check_output_directory(directory: str | Path) -> Path:
    """``directory`` if a run may be saved there: new, empty, or holding a saved run (which
    saving replaces); otherwise an error, so nothing of the user's is overwritten."""
    directory = Path(directory).expanduser()
    if directory.exists() and not directory.is_dir():
        raise InvalidParameterError(f"{directory} is a file; give a directory to save into")
    if directory.is_dir() and any(directory.iterdir()) and not is_trained_model(directory):
        raise InvalidParameterError(
            f"{directory} holds other files; save into a new or empty directory"
        )
    return directory


def load(directory: str | Path, *, device: str = "cpu") -> SentimentRun:
    """A run ``SentimentRun.save`` wrote, ready to predict (needs torch)."""
    import pandas as pd
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .model import SentimentClassifier

    directory = Path(directory).expanduser()
    config = read_config(directory)
    missing = [key for key in _NEEDED_TO_PREDICT if key not in config]
    if missing:
        raise MalformedFileError(directory / CONFIG_FILE, f"no {', '.join(missing)}")
    vectorizer = TextVectorizer.load(
        directory / VOCABULARY_FILE,
        sequence_length=config["sequence_length"],
        standardization=config["standardization"],
    )
    classes = tuple(config["classes"])
    model = SentimentClassifier(
        vocab_size=len(vectorizer),
        dim=config["dim"],
        hidden=config["hidden"],
        n_outputs=1 if len(classes) == 2 else len(classes),
        pooling=config["pooling"],
    )
    try:
        model.load_state_dict(load_file(directory / WEIGHTS_FILE))
    except (RuntimeError, SafetensorError) as error:
        # torch's message starts with a header line; the first problem is on the next
        lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
        problem = lines[1] if len(lines) > 1 else lines[0]
        raise MalformedFileError(
            directory / WEIGHTS_FILE, f"does not fit the configured model ({problem[:200]})"
        ) from None
    model.to(torch.device(device)).eval()
    settings = {k: config[k] for k in _SETTINGS if k in config}
    return SentimentRun(
        model=model,
        vectorizer=vectorizer,
        classes=classes,
        history=pd.DataFrame(config["history"]),
        config=settings,
        data=config.get("data", {}),
        token_counts=np.asarray(config["token_counts"], dtype=np.int64),
        name=directory.name,
    )


_NEEDED_TO_PREDICT = ("classes", "dim", "hidden", "pooling", "sequence_length", "standardization")
# the settings a run records (besides the vectorizer's, which it keeps itself)
_SETTINGS = (
    "vocab_size",
    "dim",
    "hidden",
    "pooling",
    "epochs",
    "patience",
    "batch_size",
    "learning_rate",
    "validation_split",
    "random_state",
    "device",
)


def _replace_directory(staging: Path, directory: Path) -> None:
    # a reader sees the old run or the new one: the old directory steps aside, the new one
    # takes its name, then the old one goes
    if not directory.exists():
        os.replace(staging, directory)
        return
    previous = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.old."))
    os.replace(directory, previous / "run")
    try:
        os.replace(staging, directory)
    except BaseException:
        os.replace(previous / "run", directory)
        raise
    finally:
        shutil.rmtree(previous, ignore_errors=True)


def _check_texts(texts: Sequence[str]) -> list[str]:
    texts = list(texts)
    bad = [t for t in texts if not isinstance(t, str)]
    if bad:
        raise InvalidParameterError(f"texts must be strings; got {bad[0]!r}")
    return texts
