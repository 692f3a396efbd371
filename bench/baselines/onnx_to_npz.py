#!/usr/bin/env python3
"""Writes the initializers of a BVLC AlexNet .onnx file (the fixture) to an .npz, for torch_finetune.py.

The torch venv has no onnx module and Debian's python3 has no torch: this half runs on the system
python3 (python3-onnx, python3-numpy), the other half loads the .npz with numpy.
Usage: onnx_to_npz.py IN.onnx OUT.npz
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def main():
    src, dst = sys.argv[1], sys.argv[2]
    model = onnx.load(src)
    arrays = {t.name: numpy_helper.to_array(t).astype(np.float32) for t in model.graph.initializer}
    np.savez(dst, **arrays)  # names as the zoo file: conv1_w_0 [96,3,11,11] ... fc8_b_0 [1000]


if __name__ == "__main__":
    main()
