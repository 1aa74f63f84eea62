"""Benchmarks; run them from the repo root, e.g. `.venv/bin/python -m bench.coldstart`.

The parent processes import `core` and the functions as Lambda would find them (the layer's
/opt/python, the function code, the repo root), so no PYTHONPATH is needed.
"""

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
for _path in (_ROOT / "layers" / "core" / "python", _ROOT / "functions", _ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
