"""The reference study's dataset layout (chat / math / code JSONL folders) and converters.

    data = load_reference(Path("data/chat"), kind="chat")   # validated row by row
    data.test[0].label

See ``layout`` for the format and ``convert`` for building it from public datasets.
"""

from aar.w2s.reference.layout import (
    KINDS,
    SPLIT_FILES,
    ChatRow,
    ChoiceRow,
    ReferenceData,
    load_reference,
)

__all__ = ["KINDS", "SPLIT_FILES", "ChatRow", "ChoiceRow", "ReferenceData", "load_reference"]
