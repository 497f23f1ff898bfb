"""Labelled text and its sentence embeddings: reading data sets, the encoder model's spec,
encoding with a cache (locally or on Ray)."""
