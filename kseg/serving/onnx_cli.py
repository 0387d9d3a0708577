"""`python -m export.onnx` (= `python -m kseg.serving.onnx_cli`): a kseg model as ONNX,
checked with ONNX Runtime.

    python -m export.onnx --model runs/builtin_pan --out pan.onnx
    python -m export.onnx --model model.keras --out pan_crf.onnx --crf dense --opset 18

Input `images` float32 (B, H, W, 3) RGB in [0, 255], dynamic batch and size; outputs
`logits`, `probabilities` (softmax or CRF) and `labels` int32. After conversion the file is
run in ONNX Runtime against TensorFlow on built-in test images; the command fails when
logits differ by more than 1e-4 or fewer than 99.9% of labels agree.
"""

import argparse
import json
import sys

from kseg.constants import CRF_NAMES
from kseg.output_paths import output_file
from kseg.remote_inputs import add_model_argument


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m export.onnx", description=__doc__.split("\n\n")[0])
    add_model_argument(parser, "a training run folder or a .keras file")
    parser.add_argument("--out", required=True, type=output_file, help="output .onnx file")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    parser.add_argument("--crf", choices=CRF_NAMES, help="append a CRF (DenseCRF uses gather ops)")
    parser.add_argument("--no-verify", action="store_true", help="skip the ONNX Runtime check")
    args = parser.parse_args(argv)

    from kseg.serving import OnnxExportError, export_onnx
    from kseg.serving.labels import run_labels
    from kseg.models.loading import load_inference_model

    try:
        model = load_inference_model(args.model)
        result = export_onnx(model, args.out, opset=args.opset, crf=args.crf, check=not args.no_verify, labels=run_labels(args.model))
    except (OnnxExportError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    if "verification" in result and not result["verification"]["ok"]:
        print("error: ONNX Runtime output differs from TensorFlow beyond tolerance", file=sys.stderr)
        return 1
    return 0


def export_in_subprocess(model_path, out, opset=17, crf=None):
    """Run this command in a child process: tf2onnx needs many times the model's weights in
    memory (17 GB peak for RelationNet's 110M parameters), which the child returns when it
    ends, and a child killed for want of memory costs the export, not the caller.

    Returns the command's result dict, or `{"error": ...}` naming what went wrong.
    """
    import subprocess

    command = [sys.executable, "-m", "kseg.serving.onnx_cli", "--model", model_path, "--out", out, "--opset", str(opset)]
    if crf:
        command += ["--crf", crf]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode < 0:
        return {"error": f"the ONNX export process was killed by signal {-done.returncode} (out of memory?)"}
    try:
        result = json.loads(done.stdout)
    except json.JSONDecodeError:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        return {"error": f"the ONNX export process failed (exit {done.returncode}): {lines[-1] if lines else ''}"}
    if done.returncode != 0:
        result["error"] = "ONNX Runtime output differs from TensorFlow beyond tolerance"
    return result


if __name__ == "__main__":
    sys.exit(main())
