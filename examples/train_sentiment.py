"""The notebook's experiment at full size: train the 16-dimensional sentiment model on SST-2's
training sentences, rt-polarity and the IMDB sample, with every sentence of the evaluation sets
held out, then measure it and look at its geometry. About a minute on two CPU cores.

Run from the repository: .venv/bin/python examples/train_sentiment.py [OUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import embscope

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SST = DATA / "sst"
KOTZIAS = [
    DATA / "sentiment_labelled_sentences" / f"{name}_labelled.txt"
    for name in ("yelp", "amazon_cells", "imdb")
]


def main(out: str) -> None:
    imdb = embscope.read_texts(
        DATA / "imdb" / "imdb_test_sample_5000.csv", text="text", label="label"
    )
    run = embscope.train.sentiment(
        [SST / "stsa.binary.train", DATA / "rt_polarity", imdb],
        label_names=["neg", "pos"],  # SST and IMDB number their labels, rt-polarity names them
        held_out=[SST / "stsa.binary.dev", SST / "stsa.binary.test", *KOTZIAS],
        random_state=0,
    )
    run.save(out)
    print(run.history.round(4).to_string(index=False))
    for entry in run.data["sources"]:
        name, removed = Path(entry["source"]).name, entry["removed_as_held_out"]
        print(f"{name}: {removed:,} of {entry['rows']:,} removed as held out")
    test = run.score(SST / "stsa.binary.test", label_names=["neg", "pos"])
    print(f"SST-2 test accuracy: {test.accuracy:.3f}")
    scores = [run.score(path, label_names=["neg", "pos"]) for path in KOTZIAS]
    for path, score in zip(KOTZIAS, scores, strict=True):
        print(f"{path.name}: {score.accuracy:.3f}")
    cross = sum(s.accuracy * s.rows for s in scores) / sum(s.rows for s in scores)
    print(f"Kotzias sentences (yelp + amazon + imdb): {cross:.3f}")
    space = run.space
    for a, b in [("wonderful", "horrible"), ("good", "bad"), ("good", "beautiful")]:
        print(f"cos({a}, {b}) = {space.similarity(a, b):.2f}")
    near = space.neighbors("horrible", top_k=10, restrict_vocab=2000)["key"].tolist()
    far = space.opposites("horrible", top_k=10, restrict_vocab=2000)["key"].tolist()
    print("nearest 'horrible' (2,000 most frequent words):", ", ".join(near))
    print("most opposite:", ", ".join(far))
    print(f"saved to {out}; explore it with: embscope neighbors horrible --source {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sentiment-16")
