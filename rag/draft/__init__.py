"""Eval questions drawn from the user's own documents.

In: the indexed documents and a generator. Out: a question set in the format of evals/qa.jsonl (items whose quote,
answer and retrieval round trip were checked), written resumably.
"""
