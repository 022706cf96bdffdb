"""Passages become an answer or a refusal.

In: a question, its history and the Pipeline. Out: an Answer: text with verified citations, "not confirmed" with the
passages, or "The documents don't say" with the closest passages, and one record of why (the engine, the looks,
citations, the decision).
"""
