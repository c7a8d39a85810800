"""The reproduction contract: how a snapshot says what command re-creates its predictions.

A snapshot whose root holds ``reproduce.json`` can be re-run by the campaign in a clean
sandbox, on fresh seeds and on held-out tasks. The file is either a library method

    {"method": "confident", "options": {"keep_fraction": 0.3}}

or a command of the researcher's own, with ``{bundle}``, ``{seed}`` and ``{out}`` filled in
(``out`` is a JSON file to write: a list of labels, or ``{"predictions": [...]}``):

    {"command": ["python", "my_method.py", "--bundle", "{bundle}", "--seed", "{seed}",
                 "--out", "{out}"]}

    recipe = Recipe.parse(text)              # DataError naming what is wrong
    argv = recipe.argv("python", bundle="/data/geofacts", seed=7, out="verify/7.json")
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aar.core.errors import DataError

RECIPE_FILE = "reproduce.json"
PLACEHOLDERS = ("{bundle}", "{seed}", "{out}")


@dataclass(frozen=True)
class Recipe:
    method: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    command: tuple[str, ...] = ()

    @classmethod
    def library(cls, method: str, options: dict[str, Any] | None = None) -> Recipe:
        return cls(method=method, options=dict(options or {}))

    @classmethod
    def parse(cls, text: str) -> Recipe:
        """The recipe in ``text`` (the contents of ``reproduce.json``)."""
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"{RECIPE_FILE} is not JSON: {err}") from None
        except RecursionError:
            raise DataError(f"{RECIPE_FILE} nests too deeply to read") from None
        if not isinstance(raw, dict) or ("method" in raw) == ("command" in raw):
            raise DataError(f"{RECIPE_FILE} needs exactly one of 'method' or 'command'")
        if "method" in raw:
            return cls._parse_method(raw)
        command = raw["command"]
        if not (isinstance(command, list) and command and all(isinstance(a, str) for a in command)):
            raise DataError(f"{RECIPE_FILE}: 'command' must be a non-empty list of strings")
        if "{out}" not in " ".join(command):
            raise DataError(f"{RECIPE_FILE}: the command must write to {{out}}")
        return cls(command=tuple(command))

    @classmethod
    def _parse_method(cls, raw: dict[str, Any]) -> Recipe:
        method, options = raw["method"], raw.get("options", {})
        if not isinstance(method, str) or not method:
            raise DataError(f"{RECIPE_FILE}: 'method' must be a method's name")
        if not isinstance(options, dict):
            raise DataError(f"{RECIPE_FILE}: 'options' must be an object")
        return cls(method=method, options=options)

    def to_json(self) -> str:
        if self.method is not None:
            return json.dumps({"method": self.method, "options": self.options}, sort_keys=True)
        return json.dumps({"command": list(self.command)})

    def argv(self, python: str, *, bundle: str, seed: int, out: str) -> list[str]:
        """The command line that writes seed ``seed``'s test predictions to ``out``."""
        if self.method is not None:
            # -P: the working folder (the snapshot's files) is not put on sys.path, so a
            # snapshot cannot ship an "aar" package of its own in place of the library
            argv = [python, "-P", "-m", "aar", "predict", "--bundle", bundle, "--method",
                    self.method]  # fmt: skip
            for key, value in sorted(self.options.items()):
                argv += ["--method-option", f"{key}={json.dumps(value)}"]
            return [*argv, "--seed", str(seed), "--out", out]
        values = {"{bundle}": bundle, "{seed}": str(seed), "{out}": out}
        return [_fill(part, values) for part in self.command]


def _fill(part: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        part = part.replace(placeholder, value)
    return part


def read_predictions(text: str) -> list[int]:
    """Labels from a predictions file: a JSON list, or an object with ``predictions``."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"predictions are not JSON: {err}") from None
    labels = raw.get("predictions") if isinstance(raw, dict) else raw
    if not isinstance(labels, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in labels
    ):
        raise DataError("predictions must be a list of integer labels")
    return labels
