"""The CDK app of the suite (see ARCHITECTURE.md, section Infrastructure).

The route table and function catalog (`core.routes`) live in the core layer and import
nothing third-party, so the layer's source folder is put on the import path here; nothing
under functions/ is ever imported by the infrastructure code.
"""

import sys
from pathlib import Path

_CORE = str(Path(__file__).resolve().parent.parent / "layers" / "core" / "python")
if _CORE not in sys.path:
    sys.path.insert(0, _CORE)
