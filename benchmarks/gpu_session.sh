#!/usr/bin/env bash
# Every GPU check in one go, for a lent GPU machine (the `device` tool); under 8 minutes:
# the GPU tests (tests/test_lm_gpu.py), then the benchmark table (benchmarks/gpu_train.py).
#
#   bash benchmarks/gpu_session.sh                 # run with carry=[".gpu-wheels"]
#
# The device image has torch, transformers and peft, but maybe not aar's pure-Python
# dependencies, and no internet. Download them here first, for the Pythons it may have:
#
#   for v in 3.10 3.11 3.12; do pip download -q -d .gpu-wheels --only-binary=:all: \
#       --python-version $v --platform manylinux2014_x86_64 pydantic typer rich pytest; done
#
# AAR_BENCH_ARGS passes extra flags to the benchmark (e.g. "--shape tiny --device cpu").
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src:$PWD" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
wheels="${AAR_WHEELS:-.gpu-wheels}"
if ! python -c "import pydantic, pytest" 2>/dev/null && [ -d "$wheels" ]; then
    python -m pip install -q --no-index --find-links "$wheels" pydantic typer rich pytest \
        2>&1 | tail -2
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null
python -c "import torch, transformers, peft; print('torch', torch.__version__, \
'transformers', transformers.__version__, 'peft', peft.__version__)"
timeout 150 python -m pytest -q -m gpu tests/test_lm_gpu.py -p no:cacheprovider 2>&1 | tail -15
# shellcheck disable=SC2086
timeout 330 python benchmarks/gpu_train.py ${AAR_BENCH_ARGS:-} 2>&1 | grep -v Warning | tail -25
