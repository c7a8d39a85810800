"""Commands that join the research problem and the hub: publish a task, predict on a bundle.

    aar hub publish-task geofacts --bundle campaign/public/geofacts --seeds 3   # operator
    aar hub publish-task toy --bundle b --secrets keep/toy.json --secret-option sealed_seed=7
    aar predict --bundle /data/geofacts --method aux_conf --seed 0 --out preds.json

``publish-task`` draws the task's secret options (or takes known ones), writes them to a file
the operator keeps (``aar.cli.secrets``), builds the task's public bundle with them (see
``aar.w2s.public``), saves it, and registers the secrets (gold labels, baseline predictions
per seed) on the hub. ``predict`` runs a library method on a bundle's public data: what a
researcher does in a sandbox.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from aar.cli.hub import TokenOpt, UrlOpt, _client, hub_app
from aar.cli.options import parse_assignments
from aar.cli.output import stdout_console
from aar.core.errors import ConfigError

console = stdout_console()

OptionOpt = Annotated[
    list[str] | None, typer.Option("--option", "-o", help="Task option KEY=VALUE (repeatable).")
]


SecretOpt = Annotated[
    list[str] | None,
    typer.Option(help="A known secret option KEY=VALUE instead of a fresh one (repeatable)."),
]
SecretsOpt = Annotated[
    Path | None,
    typer.Option(help="File for the secret options (default: NAME.secrets.json here)."),
]


@hub_app.command("publish-task")
def publish_task(
    task: str,
    bundle: Annotated[Path, typer.Option(help="Folder to write the public bundle to.")],
    seeds: Annotated[int, typer.Option("--seeds", "-s", min=1, help="Seeds with baselines.")] = 3,
    split_seed: Annotated[int, typer.Option(help="Seed of the one fixed split.")] = 0,
    option: OptionOpt = None,
    secret_option: SecretOpt = None,
    secrets: SecretsOpt = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing secrets file.")] = False,
    name: Annotated[str | None, typer.Option(help="Name on the hub (default: the task).")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Build TASK's public bundle and register its labels and baselines on the hub; its secret
    options go to a file that only you can read (keep it: verification needs them)."""
    from aar.campaign.publish import publish
    from aar.cli.secrets import check_writable, secret_values, write_secrets

    client = _client(url, token)
    started = time.perf_counter()
    options = parse_assignments(option or [], "--option")
    given = parse_assignments(secret_option or [], "--secret-option")
    secret = secret_values(task, options, given)
    hub_name = name or task
    path = secrets or Path(f"{hub_name}.secrets.json")
    check_writable(path, force)
    if hub_name in {t.name for t in client.tasks()}:
        raise ConfigError(f"the hub already has a task named {hub_name!r}; give another --name")
    # Written before the hub has the task: a registered task whose sealed set cannot be
    # rebuilt is never left behind.
    record = {"task": task, "name": hub_name, "split_seed": split_seed, "seeds": seeds,
              "options": options, "secret_options": secret}  # fmt: skip
    write_secrets(path, record, force)
    console.print(f"secret options of {hub_name} written to {path} (mode 0600): keep this file")
    registered = publish(
        client, task, options, seeds=range(seeds), split_seed=split_seed, bundle_dir=bundle,
        name=name, secret=secret,
    )  # fmt: skip
    console.print(
        f"task {registered.name}: {registered.n_test} test items, weak {registered.weak_public}, "
        f"ceiling {registered.ceiling_public} (public half); bundle in {bundle} "
        f"({time.perf_counter() - started:.0f} s)"
    )


def predict(
    bundle: Annotated[Path, typer.Option(help="A public task bundle folder.")],
    method: Annotated[str, typer.Option("--method", "-m", help="Method (aar methods).")],
    out: Annotated[Path, typer.Option(help="JSON file for the predictions.")],
    seed: Annotated[int, typer.Option(help="Which seed's weak labels to learn from.")] = 0,
    method_option: Annotated[
        list[str] | None, typer.Option(help="Method option KEY=VALUE (repeatable).")
    ] = None,
) -> None:
    """Run a library method on a bundle's public data and write its test predictions."""
    from aar.w2s.public import PublicBundle, run_on_bundle

    public = PublicBundle.load(bundle)
    options = parse_assignments(method_option or [], "--method-option")
    started = time.perf_counter()
    labels = run_on_bundle(public, method, options, seed)
    agreement = float(np.mean(labels == public.test_weak[seed].argmax(1)))
    record = {
        "task": public.task,
        "method": method,
        "options": options,
        "seed": seed,
        "predictions": labels.tolist(),
        "agreement_with_weak": agreement,
        "seconds": time.perf_counter() - started,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record) + "\n")
    console.print(
        f"{method} seed {seed}: {len(labels)} predictions in {out} "
        f"(agree with the weak labels on {agreement:.1%}; {record['seconds']:.1f} s)"
    )
