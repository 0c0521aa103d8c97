"""The pipeline's stages, run from the repo root as `python -m stages.<name>` (dvc.yaml), a
command any shell runs, Windows' cmd included. Importing this package puts this tree's src/
first on the path: `dvc exp run --queue` runs a snapshot of the repo in .dvc/tmp/exps/, where
the editable install (`pip install -e .`) would import the workspace's code instead."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
