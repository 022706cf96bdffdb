"""A question becomes the passages that may answer it.

In: a question. Out: evidence passages (sentence-level units with their neighbours, offsets and scores), in the
trained ranker's order, from hybrid dense + BM25 retrieval.
"""
