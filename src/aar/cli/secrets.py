"""The secret options of a published task, and the file the operator keeps them in.

    secret = secret_values("toy", options, given={"sealed_seed": 7})   # the rest drawn fresh
    write_secrets(Path("toy.secrets.json"), {"task": "toy", "secret_options": secret}, force=False)

A task's secret options (``Task.secret_options``: the sealed set's seed, a generator's data
seed) let anyone with the code rebuild its labels, so no bundle records them; whoever
published the task needs them again to build its sealed bundles. ``aar hub publish-task``
draws them (or takes known values), writes them to a file readable by its owner only
(mode 0600) before the hub has the task, and never overwrites one unless told to.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aar.core.errors import ConfigError


def secret_values(
    task: str, options: Mapping[str, Any], given: Mapping[str, Any]
) -> dict[str, Any]:
    """``task``'s secret options: the ``given`` values, the others drawn fresh. A secret
    option among the public ``options``, an unknown name or a value that is not an integer
    in ``given`` is refused."""
    from aar.campaign.publish import secret_options

    drawn: dict[str, Any] = dict(secret_options(task))
    public = sorted(set(options) & set(drawn))
    if public:
        raise ConfigError(
            f"--option {', '.join(public)}: a secret option of {task}; give it with "
            "--secret-option so that it is kept out of the bundle and in the secrets file"
        )
    unknown = sorted(set(given) - set(drawn))
    if unknown:
        known = ", ".join(sorted(drawn)) or "none"
        raise ConfigError(
            f"--secret-option {', '.join(unknown)}: not a secret option of {task} "
            f"(its secret options: {known})"
        )
    odd = sorted(key for key, value in given.items() if type(value) is not int)
    if odd:
        raise ConfigError(f"--secret-option {', '.join(odd)}: expected an integer")
    return drawn | dict(given)


def check_writable(path: Path, force: bool) -> None:
    """Refuse early (before anything is built) a secrets file that exists, unless ``force``."""
    if path.exists() and not force:
        raise ConfigError(
            f"{path} already exists: it may hold the secrets of a published task. Give "
            "another --secrets path, reuse its values with --secret-option KEY=VALUE, or "
            "replace it with --force"
        )
    if not path.parent.is_dir():
        raise ConfigError(f"cannot write the secrets file {path}: no folder {path.parent}")


def write_secrets(path: Path, record: Mapping[str, Any], force: bool) -> None:
    """Write ``record`` as JSON to ``path``, readable and writable by its owner only; an
    existing file is replaced only with ``force``."""
    check_writable(path, force)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        descriptor = os.open(path, flags, 0o600)
    except FileExistsError:
        check_writable(path, force)  # created since the check: refused the same way
        raise
    except OSError as err:
        raise ConfigError(f"cannot write the secrets file {path}: {err.strerror}") from None
    with os.fdopen(descriptor, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)  # a replaced file keeps its mode otherwise
        handle.write(json.dumps(record, indent=2, sort_keys=True) + "\n")
