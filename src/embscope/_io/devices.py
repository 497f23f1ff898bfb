"""Which torch device a job runs on: the one asked for, checked before the work starts, or
the best one present ("auto")."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidParameterError


def torch_device(device: str | None) -> Any:
    """``torch.device`` for ``device``: ``"auto"`` or None picks CUDA, then MPS, then the CPU;
    anything else must name a device this machine has (``cuda:1`` on a one-GPU machine, or a
    typo such as ``tpu:9``, is refused in one line rather than failing mid-way)."""
    import torch

    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        chosen = torch.device(device)
        torch.empty(0, device=chosen)
    except (RuntimeError, AssertionError, ValueError, TypeError) as error:
        first_line = (str(error).strip().splitlines() or [""])[0]
        raise InvalidParameterError(
            f"device {device!r} cannot be used here ({first_line}); use auto, cpu, cuda, "
            "cuda:N or mps"
        ) from None
    return chosen
