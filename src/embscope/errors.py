"""Every error embscope raises on purpose.

The hierarchy::

    EmbscopeError                      anything embscope reports to a user
    ├── UnknownKeyError (KeyError)     a word the space lacks; carries close matches or pieces
    ├── InvalidParameterError (ValueError)   an argument breaks a stated rule
    ├── MissingDependencyError (ImportError) an optional extra is not installed
    └── SourceError                    a source cannot be found or read
        └── MalformedFileError         a file is broken; names the file and line or row

Messages are one line, say what was wrong and what to do; the CLI prints them without a
traceback and exits non-zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class EmbscopeError(Exception):
    """Base class of the errors embscope raises for bad input or missing parts."""


class UnknownKeyError(EmbscopeError, KeyError):
    """A query names a key the space does not have.

    ``suggestions`` holds the closest keys (in a vocabulary of word-start tokens, the words
    that name them); ``pieces`` holds the keys of the sub-word pieces the word splits into when
    the space has a tokenizer (empty otherwise) and ``piece_labels`` how tables show them
    (``␣em``, ``bed``, ``dings``), which the message uses (and offers their mean, unless
    ``offer_mean`` is false: a question only one row can answer); ``reason`` says why a key the
    source had is missing (a row left out on load).
    """

    def __init__(
        self,
        key: str,
        *,
        space_name: str = "the space",
        suggestions: Sequence[str] = (),
        pieces: Sequence[str] = (),
        piece_labels: Sequence[str] = (),
        reason: str | None = None,
        offer_mean: bool = True,
    ) -> None:
        self.key = key
        self.suggestions = list(suggestions)
        self.pieces = list(pieces)
        self.piece_labels = list(piece_labels) or list(pieces)
        if reason is not None:
            message = f"{key!r} is not in {space_name}: {reason}"
        elif not key.strip():
            message = "empty query: give a word or token of the vocabulary"
        elif len(self.pieces) > 1:
            shown = " + ".join(self.piece_labels)
            message = (
                f"{key!r} is not a single entry of {space_name}: the tokenizer splits it into "
                f"{shown}; query one piece"
            )
            if offer_mean:
                message += (
                    ", or pass pieces='mean' (CLI: --pieces mean) to use the mean of their vectors"
                )
        elif self.suggestions:
            message = (
                f"{key!r} is not in the vocabulary of {space_name}; closest keys: "
                + ", ".join(self.suggestions)
            )
        else:
            message = f"{key!r} is not in the vocabulary of {space_name} and nothing close is"
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return self.message


class InvalidParameterError(EmbscopeError, ValueError):
    """An argument breaks a rule; the message names the parameter and the rule."""


class MissingDependencyError(EmbscopeError, ImportError):
    """An optional dependency is missing; the message names the extra that brings it."""

    def __init__(self, package: str, *, extra: str, purpose: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{purpose} needs the {package!r} package: pip install 'embscope[{extra}]'"
        )


class SourceError(EmbscopeError):
    """A source cannot be resolved or read."""


class MalformedFileError(SourceError):
    """A file is broken. The message names the file, the line (or row) and what is wrong."""

    def __init__(self, path: str | Path, problem: str, *, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        # a library's own message (pyarrow's, h5py's) may end in a newline or span several
        # lines; the user's error stays one line
        self.problem = problem = " ".join(problem.split())
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")
