"""Questions asked of a whole space or of labelled rows: analogies, word-pair and analogy
benchmarks, class similarity and separation, kNN classification, the cosine/Euclidean profile,
and clusters of a projection with their most telling words."""
