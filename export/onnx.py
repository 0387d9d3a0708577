"""`python -m export.onnx`: a kseg model as ONNX, checked with ONNX Runtime.

    python -m export.onnx --model runs/builtin_pan_r50 --out pan.onnx
    python -m export.onnx --model model.keras --out pan_crf.onnx --crf dense --opset 18

See kseg/serving/onnx_cli.py.
"""

import sys

from kseg.serving.onnx_cli import main

if __name__ == "__main__":
    sys.exit(main())
