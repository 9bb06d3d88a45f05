"""The bot serves with numpy alone: no training runtime, no JIT warm-up on the request path,
and no scipy or scikit-learn (scipy.ndimage alone costs each process ~26 MB)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SERVE = """
import json, sys
import numpy as np
from PIL import Image
import bot.app
import bot.recognition
from model.serving.modelfile import load_model
from model.serving.preprocess import to_mnist
model = load_model(sys.argv[1])
image = np.zeros((28, 28), np.uint8)
image[6:22, 12:16] = 255
model.assign(to_mnist(Image.fromarray(image)))
heavy = {"numba", "umap", "pynndescent", "torch", "tensorflow", "llvmlite", "scipy", "sklearn"}
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in heavy)))
"""


def test_serving_imports_no_training_runtime(model_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", SERVE, str(model_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
