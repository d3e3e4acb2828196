"""Reading torch files with ``torch.load(weights_only=True)`` only, and saying
in one line of segbench's own why a file was refused (torch's message spans
lines and advises ``weights_only=False``, which segbench never does)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

__all__ = ["load_weights_only", "refusal_reason"]


def refusal_reason(exc: BaseException) -> str:
    """One short line: why ``torch.load(weights_only=True)`` refused a file."""
    text = str(exc).strip()
    if "Weights only load failed" in text:
        return "it holds pickled Python objects, not only tensors"
    return text.splitlines()[0][:160] if text else type(exc).__name__


def load_weights_only(path: str | Path) -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)``; raises what
    torch raises (callers turn it into an InputError with :func:`refusal_reason`)."""
    return torch.load(Path(path), map_location="cpu", weights_only=True)
