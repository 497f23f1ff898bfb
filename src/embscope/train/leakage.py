"""Remove from a training set the texts that also sit in a held-out set, after normalisation.

SST was built from rt-polarity's sentences, re-tokenised (``wo n't``, ``-lrb-``, ``century 's``
against rt-polarity's ``century's``), so training on rt-polarity leaks SST's dev and test
sets unless every rt-polarity sentence matching one of them is removed first. Two texts match
when they are equal after lowercasing, bracket tokens written back, accents dropped, and every
character that is not a letter or a digit removed (spaces included), which undoes those
tokenisation differences. SST also split rt-polarity's snippets into sentences, so a
training text that contains a held-out sentence of at least ``CONTAINED_FROM`` characters
(after normalisation) goes too; shorter sentences ("lovely and poignant") would match
unrelated texts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..datasets import TextDataset

_BRACKETS = {"-lrb-": "(", "-rrb-": ")", "-lsb-": "[", "-rsb-": "]", "-lcb-": "{", "-rcb-": "}"}
_BRACKET_TOKENS = re.compile("|".join(map(re.escape, _BRACKETS)))
_NOT_ALPHANUMERIC = re.compile(r"[\W_]+")
# held-out sentences this long (normalised) also remove the training texts that contain them;
# on rt-polarity against SST-2 dev + test, 20, 30 and 40 remove 2,486, 2,469 and 2,444 texts
CONTAINED_FROM = 20


def sentence_key(text: str) -> str:
    """What two renderings of one sentence have in common (see the module docstring)."""
    lowered = _BRACKET_TOKENS.sub(lambda m: _BRACKETS[m.group(0)], text.lower())
    decomposed = unicodedata.normalize("NFKD", lowered)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_ALPHANUMERIC.sub("", plain)


def remove_overlap(dataset: TextDataset, held_out: Iterable[str]) -> tuple[TextDataset, int]:
    """``dataset`` without the rows whose text matches a held-out text, and how many went."""
    import bisect
    from dataclasses import replace

    held = {sentence_key(text) for text in held_out}
    held.discard("")
    keys = [sentence_key(text) for text in dataset.texts]
    keep = [key not in held for key in keys]
    # one search per long held-out sentence over all training texts joined by newlines
    joined = "\n".join(keys)
    starts = [0]
    for key in keys[:-1]:
        starts.append(starts[-1] + len(key) + 1)
    for sentence in held:
        if len(sentence) < CONTAINED_FROM:
            continue
        found = joined.find(sentence)
        while found != -1:
            keep[bisect.bisect_right(starts, found) - 1] = False
            found = joined.find(sentence, found + 1)
    removed = len(keep) - sum(keep)
    frame = dataset.frame.loc[keep].reset_index(drop=True)
    return replace(dataset, frame=frame), removed
