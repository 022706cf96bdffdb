"""Passages become an answer or a refusal.

In: a question, its history and the Pipeline. Out: an Answer: text with verified citations, or "The documents
don't say" with the closest passages and the reason (the engine, citations, the judges).
"""
