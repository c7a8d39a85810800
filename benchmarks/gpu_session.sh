#!/usr/bin/env bash
# Every GPU check in one go, for a lent GPU machine (the `device` tool): under 8 minutes.
#   bash benchmarks/gpu_session.sh
# The image has torch, transformers and peft but maybe not aar's small pure-Python
# dependencies: they install from wheels in $AAR_WHEELS when it is given (no internet there).
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src:$PWD" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if [ -n "${AAR_WHEELS:-}" ]; then
    python -m pip install -q --no-index --find-links "$AAR_WHEELS" pydantic typer rich pytest \
        2>&1 | tail -2
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python -c "import torch, transformers, peft; print('torch', torch.__version__, \
'transformers', transformers.__version__, 'peft', peft.__version__)"
timeout 150 python -m pytest -q -m gpu tests/test_lm_gpu.py -p no:cacheprovider 2>&1 | tail -15
timeout 330 python benchmarks/gpu_train.py 2>&1 | grep -v Warning | tail -25
