"""Offline-first retrieval-augmented Q&A over your own documents, with verified citations."""
