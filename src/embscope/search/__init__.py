"""Finding the rows closest to a query: the scoring kernels (cosine, dot, Euclidean over float32,
float16 or bfloat16 rows), the typed results, the approximate index and the kNN graph."""
