"""The operator's knowledge base: which entry answers a prospect's free question.

Retrieval only picks an entry (or none); the answer is always the operator's own text.
"""
