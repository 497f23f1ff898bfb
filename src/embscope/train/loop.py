"""The training loop: Adam, shuffled mini-batches, early stopping with the best weights restored.

It follows Keras' ``model.fit(..., callbacks=[EarlyStopping(monitor="val_loss", patience=5,
restore_best_weights=True)])``: Keras' Adam (epsilon 1e-7), a fresh shuffle each epoch, the
validation loss measured after each epoch, training stopped once it has not improved for
``patience`` epochs, and the weights of the best epoch put back at the end (whether or not
training stopped early).

The whole token-id matrix sits in one tensor on the device and each batch is a slice of a
shuffled index, with no DataLoader, so a small model trains at the speed of its arithmetic.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .._io.progress import progress_bar

KERAS_ADAM_EPSILON = 1e-7
EVALUATION_BATCH = 4096


@dataclass(frozen=True)
class Schedule:
    """How long and how to train."""

    epochs: int = 20
    patience: int = 5
    batch_size: int = 32
    learning_rate: float = 1e-3


def loss_function(n_outputs: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Binary cross-entropy on one logit for two classes, cross-entropy on softmax otherwise."""
    if n_outputs == 1:
        binary = nn.BCEWithLogitsLoss()
        return lambda logits, labels: binary(logits[:, 0], labels.to(logits.dtype))
    return nn.CrossEntropyLoss()


def predicted_classes(logits: torch.Tensor) -> torch.Tensor:
    if logits.shape[1] == 1:
        return (logits[:, 0] > 0).long()
    return logits.argmax(1)


@torch.no_grad()
def evaluate(model: nn.Module, ids: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``ids`` / ``labels`` (already on its device)."""
    model.eval()
    loss_of = loss_function(model.output.out_features)
    total_loss, correct = 0.0, 0
    for start in range(0, len(ids), EVALUATION_BATCH):
        logits = model(ids[start : start + EVALUATION_BATCH])
        batch_labels = labels[start : start + EVALUATION_BATCH]
        total_loss += float(loss_of(logits, batch_labels)) * len(batch_labels)
        correct += int((predicted_classes(logits) == batch_labels).sum())
    return total_loss / len(ids), correct / len(ids)


def fit(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    validation: tuple[torch.Tensor, torch.Tensor],
    schedule: Schedule,
    *,
    generator: torch.Generator,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    on_improvement: Callable[[dict[str, Any]], None] | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train ``model`` in place and leave it with its best epoch's weights; return the history.

    Each history record holds ``epoch`` (1-based), ``loss``, ``accuracy``, ``val_loss``,
    ``val_accuracy``, ``seconds`` and ``best`` (whether the validation loss improved).
    ``on_epoch`` sees every record as it is made; ``on_improvement`` is called after an
    improving epoch, while the model holds that epoch's weights (to checkpoint them).
    """
    ids, labels = train
    loss_of = loss_function(model.output.out_features)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=schedule.learning_rate, eps=KERAS_ADAM_EPSILON
    )
    steps = -(-len(ids) // schedule.batch_size)
    history: list[dict[str, Any]] = []
    best_loss, best_state, waited = float("inf"), None, 0
    with progress_bar(schedule.epochs * steps, "training", enabled=progress) as advance:
        for epoch in range(1, schedule.epochs + 1):
            started = time.perf_counter()
            model.train()
            order = torch.randperm(len(ids), generator=generator).to(ids.device)
            total_loss = torch.zeros((), device=ids.device)
            correct = torch.zeros((), dtype=torch.long, device=ids.device)
            for step, start in enumerate(range(0, len(ids), schedule.batch_size)):
                batch = order[start : start + schedule.batch_size]
                batch_labels = labels[batch]
                logits = model(ids[batch])
                loss = loss_of(logits, batch_labels)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                # summed on the device: a .item() per step would wait for the GPU each time
                total_loss += loss.detach() * len(batch)
                correct += (predicted_classes(logits.detach()) == batch_labels).sum()
                if step % 50 == 49:
                    advance(50, description=f"epoch {epoch}/{schedule.epochs}")
            advance(steps % 50, description=f"epoch {epoch}/{schedule.epochs}")
            val_loss, val_accuracy = evaluate(model, *validation)
            improved = val_loss < best_loss
            record = {
                "epoch": epoch,
                "loss": float(total_loss) / len(ids),
                "accuracy": int(correct) / len(ids),
                "val_loss": val_loss,
                "val_accuracy": val_accuracy,
                "seconds": time.perf_counter() - started,
                "best": improved,
            }
            history.append(record)
            if on_epoch is not None:
                on_epoch(record)
            waited += 1
            if improved:
                best_loss, waited = val_loss, 0
                best_state = copy.deepcopy(model.state_dict())
                if on_improvement is not None:
                    on_improvement(record)
            elif waited >= schedule.patience:
                advance((schedule.epochs - epoch) * steps)
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history
