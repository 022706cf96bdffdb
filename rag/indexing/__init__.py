"""Text into the stores, incrementally and crash-safe.

In: the documents folder and Settings. Out: the Chroma collection of chunks (with embeddings) and the persisted
BM25 index, each file at its old or its new version.
"""
