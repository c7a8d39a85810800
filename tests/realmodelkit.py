"""A real small instruct model behind llama.cpp's OpenAI-compatible server, for slow tests.

    model = real_model()                          # the GGUF (.ci/real-model builds it), or skip
    with llama_server(model, context=6144) as base_url:
        ...                                       # http://127.0.0.1:PORT/v1, warmed up

``AAR_REAL_MODEL_GGUF`` names the model file; without it the tests skip, unless
``AAR_REQUIRE_REAL_MODEL`` is set (CI), where a missing model or server fails them instead.
The server is llama-cpp-python's (``python -m llama_cpp.server``), on 127.0.0.1 alone, started
outside any sandbox, like the hub.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

MODEL_ALIAS = "qwen2.5-coder-0.5b-instruct"


def real_model() -> Path:
    """The GGUF the real-model tests use; skips (or fails, where required) without one."""
    required = bool(os.environ.get("AAR_REQUIRE_REAL_MODEL"))
    named = os.environ.get("AAR_REAL_MODEL_GGUF")
    problem = None
    if not named:
        problem = "AAR_REAL_MODEL_GGUF is not set (.ci/real-model CACHE builds the model)"
    elif not Path(named).is_file():
        problem = f"no model file at {named}"
    else:
        try:
            import llama_cpp.server  # noqa: F401
        except ImportError:
            problem = "llama-cpp-python[server] is not installed (.ci/real-model installs it)"
    if problem is not None:
        if required:
            pytest.fail(problem)
        pytest.skip(problem)
    return Path(str(named))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def llama_server(model: Path, context: int, log: Path | None = None) -> Iterator[str]:
    """llama.cpp's server for ``model`` with a ``context``-token window; yields its /v1 URL
    once it has answered one short completion (the first requests after a start are slow)."""
    port = _free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model),
        "--model_alias", MODEL_ALIAS, "--n_ctx", str(context), "--n_threads",
        str(os.cpu_count() or 2), "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    sink = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_ready(process, base_url)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        if log:
            sink.close()  # type: ignore[union-attr]


def _wait_until_ready(process: subprocess.Popen[bytes], base_url: str) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the llama.cpp server exited with {process.returncode}")
        try:
            httpx.get(f"{base_url}/models", timeout=2).raise_for_status()
            break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        raise AssertionError("the llama.cpp server did not answer within 180 s")
    warm = {"model": MODEL_ALIAS, "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 4}  # fmt: skip
    httpx.post(f"{base_url}/chat/completions", json=warm, timeout=300).raise_for_status()
