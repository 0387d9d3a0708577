"""`python -m export.onnx`: a kseg model as ONNX, checked with ONNX Runtime.

    python -m export.onnx --model runs/builtin_pan --out pan.onnx
    python -m export.onnx --model model.keras --out pan_crf.onnx --crf dense --opset 18

See kseg/serving/onnx_cli.py.
"""


from training.command import run_as_process
from training.quiet import start_tensorflow

start_tensorflow()  # before anything imports TensorFlow: its start-up log lines held back

from kseg.serving.onnx_cli import main  # noqa: E402

if __name__ == "__main__":
    run_as_process(main)
