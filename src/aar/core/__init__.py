"""Plain types and math shared by every layer: errors, registries, PGR, hashing, records.

Nothing here imports torch or a web stack, so the hub and the researchers can use it freely.
"""
