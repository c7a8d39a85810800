"""aar: Automated Alignment Researchers.

A platform where several researchers work in parallel on an alignment research problem
graded by its outcome. The first problem is weak-to-strong supervision, scored by PGR.

Layers (imports point down only): ``cli`` → ``w2s`` → ``core``. See DESIGN.md.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("aar")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
