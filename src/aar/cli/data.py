"""``aar data``: validate and build datasets in the reference JSONL layout."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aar.cli.output import stdout_console
from aar.w2s.reference import load_reference
from aar.w2s.reference.convert import CONVERTERS, convert

data_app = typer.Typer(help="Datasets in the reference JSONL layout.", no_args_is_help=True)
console = stdout_console()


@data_app.command()
def validate(
    folder: Annotated[
        Path, typer.Argument(help="Folder with train_label/train_unlabel/test(/sealed).jsonl.")
    ],
    kind: Annotated[str, typer.Option(help="Row kind: chat, math or code.")] = "chat",
) -> None:
    """Check every row of a reference folder; print counts and label balance per split."""
    data = load_reference(folder, kind)
    table = Table("split", "rows", "labeled", "label 1", "sources", title=f"{folder} ({kind})")
    for split in ("labeled", "pool", "test", "sealed"):
        rows = getattr(data, split)
        if rows is None:  # no sealed.jsonl
            continue
        labels = [r.label for r in rows if r.label is not None]
        sources = Counter(r.source or "-" for r in rows)
        positive = f"{sum(labels) / len(labels):.1%}" if labels else "-"
        table.add_row(split, str(len(rows)), str(len(labels)), positive, str(len(sources)))
    console.print(table)


@data_app.command("convert")
def convert_command(
    dataset: Annotated[str, typer.Argument(help=f"One of: {', '.join(sorted(CONVERTERS))}.")],
    source: Annotated[Path, typer.Argument(help="The dataset's original file.")],
    out: Annotated[Path, typer.Argument(help="Folder to write the reference layout into.")],
    seed: Annotated[int, typer.Option(help="Seed for the split and the pair order.")] = 0,
    labeled_fraction: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.2,
    test_fraction: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.2,
    sandbox: Annotated[
        str, typer.Option(help="Where humaneval's tests run: bwrap, or process (unsafe).")
    ] = "bwrap",
    allow_unsafe: Annotated[
        bool, typer.Option("--allow-unsafe", help="Allow --sandbox process.")
    ] = False,
) -> None:
    """Convert a public dataset into the reference layout (seeded split)."""
    from aar.sandbox.programs import check_programs

    def check(programs: Sequence[str]) -> list[bool]:
        return check_programs(programs, backend=sandbox, allow_unsafe=allow_unsafe)

    counts = convert(dataset, source, out, seed, labeled_fraction, test_fraction, check)
    summary = ", ".join(f"{split} {n}" for split, n in counts.items())
    console.print(f"wrote {out} ({CONVERTERS[dataset][0]}): {summary}")
