"""DenseCRF and ConvCRF against the reference implementations, side by side in one run.

One JSON line per case:
- `densecrf`: kseg.layers.DenseCRF (inside tf.function and called eagerly as a Keras layer,
  lattice build included) vs
  pydensecrf2 (Krähenbühl's C++; DenseCRF2D setup + inference) with the same parameters
  (addPairwiseGaussian(sxy=3, compat=3), addPairwiseBilateral(sxy=80, srgb=13, compat=10)),
  21 labels, at 500x375 and 1024x512, 5 and 10 iterations: seconds (best of --repeats),
  time ratio kseg / pydensecrf (timed in the same process, calls interleaved), MAP agreement, mean |dQ|, peak memory of each (growth of
  the resident set over the case, the first, tracing call included; each implementation
  and call mode in a fresh process whose baseline already holds the imported libraries
  and the inputs), kseg's split between lattice construction and the mean-field
  iterations, and the fraction of the bandwidth floor (the bytes any mean field must
  move, at this machine's copy bandwidth measured in the same run) kseg reaches.
- `convcrf`: kseg.layers.ConvCRF (filter 7, blur 4, 5 iterations) at 500x375, with the
  pixel accuracy of unary, ConvCRF and DenseCRF (10 iterations) against the label map
  the unary was made from.

Inputs: matplotlib's grace_hopper.jpg (cropped to 500x375; upscaled x2 and cropped for
1024x512) with `kseg.testing.realistic_unary` logits.

    pip install -e ".[benchmark]" && python benchmarks/crf.py
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

PARAMS = dict(theta_alpha=80.0, theta_beta=13.0, theta_gamma=3.0, bilateral_weight=10.0, spatial_weight=3.0)


def _rss_kb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def photo(width, height):
    import matplotlib
    from PIL import Image

    image = Image.open(os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")).convert("RGB")
    if width > image.width or height > image.height:
        scale = max(width / image.width, height / image.height)
        image = image.resize((int(np.ceil(image.width * scale)), int(np.ceil(image.height * scale))), Image.BILINEAR)
    return np.asarray(image)[:height, :width].copy()


def inputs(width, height):
    from kseg.testing import realistic_unary

    image = photo(width, height)
    logits, labels = realistic_unary(image, num_classes=21, seed=0, return_labels=True)
    return image, logits, labels


def run_pydensecrf(image, logits, iterations):
    import pydensecrf.densecrf as dcrf

    h, w, c = logits.shape
    unary = np.ascontiguousarray(-logits.reshape(-1, c).T)
    crf = dcrf.DenseCRF2D(w, h, c)
    crf.setUnaryEnergy(unary)
    crf.addPairwiseGaussian(sxy=3, compat=3)
    crf.addPairwiseBilateral(sxy=80, srgb=13, rgbim=np.ascontiguousarray(image), compat=10)
    return np.array(crf.inference(iterations)).T.reshape(h, w, c)


def copy_bandwidth_gbs(megabytes=512, repeats=5):
    """This machine's memory copy bandwidth, GB/s (read + write bytes per second, NumPy copy)."""
    src = np.ones(megabytes * 2**20 // 4, np.float32)
    dst = np.empty_like(src)
    seconds, _ = best_time(lambda: np.copyto(dst, src), repeats)
    return 2 * src.nbytes / seconds / 1e9


def floor_bytes(width, height, labels, iterations):
    """Bytes any mean field must move per call with Q out of cache: per iteration Q read
    (splat), the message written and read, the unary read and Q written (5 N x L float32
    passes), plus each pixel's 9 lattice weights and vertex indices (float32 + int32) read
    twice (splat and slice)."""
    n = width * height
    return iterations * (5 * n * labels * 4 + 2 * n * 9 * 8)


def best_time(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def lattice_build_seconds(image, repeats):
    """kseg's time for the two lattices (bilateral and spatial) alone, inside tf.function."""
    import tensorflow as tf

    from kseg.layers.crf.densecrf import _grid_features
    from kseg.layers.crf.permutohedral import build_lattice

    def build(img):
        groups = tf.zeros([tf.shape(img)[1] * tf.shape(img)[2]], tf.int32)
        lattices = [build_lattice(_grid_features(img, 80.0, 13.0), groups), build_lattice(_grid_features(img, 3.0), groups)]
        return [t for lattice in lattices for t in (lattice.vertices, lattice.weights, lattice.neighbors)]

    build_fn = tf.function(build, input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])
    build_fn(image[None])
    seconds, _ = best_time(lambda: [t.numpy() for t in build_fn(image[None])], repeats)
    return seconds


def interleaved_best(calls, repeats):
    """Best time of each of `calls` over `repeats` rounds, one call of each per round (so
    that the machine's drifts hit all alike), and each call's last result."""
    times, results = [[] for _ in calls], [None] * len(calls)
    for _ in range(repeats):
        for i, call in enumerate(calls):
            start = time.perf_counter()
            results[i] = call()
            times[i].append(time.perf_counter() - start)
    return [min(t) for t in times], results


def worker(spec):
    """Run one implementation on one case in this (fresh) process; print a JSON dict."""
    image, logits, labels = inputs(spec["width"], spec["height"])
    if spec["impl"] != "pydensecrf":
        import tensorflow as tf

        import kseg

        tf.constant(0.0) + 1.0  # runtime start-up is not the CRF's memory
    before = _rss_kb("VmRSS")
    _reset_peak()
    out = {}
    if spec["impl"] == "pydensecrf":
        seconds, q = best_time(lambda: run_pydensecrf(image, logits, spec["iterations"]), spec["repeats"])
    else:
        if spec["impl"] == "densecrf":
            layer = kseg.layers.DenseCRF(num_iterations=spec["iterations"], **PARAMS)
        else:
            layer = kseg.layers.ConvCRF(num_iterations=spec["iterations"], filter_size=7, blur=4)
        if spec.get("mode") == "eager":  # as users call a Keras layer: layer([logits, image])
            eager_inputs = [tf.constant(logits[None]), tf.constant(image[None])]
            call = lambda: layer(eager_inputs).numpy()[0]  # noqa: E731
        else:
            fn = tf.function(
                lambda a, b: layer([a, b]),
                input_signature=[tf.TensorSpec([None, None, None, 21]), tf.TensorSpec([None, None, None, 3], tf.uint8)],
            )
            call = lambda: fn(logits[None], image[None]).numpy()[0]  # noqa: E731
        # One more call than timed: the first one traces (its memory counts, its time not:
        # the best time is taken).
        seconds, q = best_time(call, spec["repeats"] + 1)
    out["seconds"] = seconds
    out["peak_mb"] = (_rss_kb("VmHWM") - before) / 1024
    if spec["impl"] == "densecrf":  # after the peak: the time ratio, interleaved with pydensecrf
        reference = lambda: run_pydensecrf(image, logits, spec["iterations"])  # noqa: E731
        (out["seconds"], out["reference_seconds"]), _ = interleaved_best([call, reference], spec["repeats"])
        if spec.get("mode") != "eager":
            out["lattice_build_s"] = lattice_build_seconds(image, spec["repeats"])
    np.save(spec["q_path"], q.astype(np.float32))
    print(json.dumps(out))


def spawn(spec):
    result = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise RuntimeError(f"worker {spec['impl']} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", nargs="+", default=["500x375", "1024x512"])
    parser.add_argument("--iterations", nargs="+", type=int, default=[5, 10])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(json.loads(args.worker))

    import tempfile

    tmp = tempfile.mkdtemp()
    bandwidth = copy_bandwidth_gbs()
    for size in args.sizes:
        width, height = (int(v) for v in size.split("x"))
        _, logits, labels = inputs(width, height)
        for iterations in args.iterations:
            spec = dict(width=width, height=height, iterations=iterations, repeats=args.repeats)
            ref = spawn({**spec, "impl": "pydensecrf", "q_path": os.path.join(tmp, "ref.npy")})
            ours = spawn({**spec, "impl": "densecrf", "q_path": os.path.join(tmp, "ours.npy")})
            eager = spawn({**spec, "impl": "densecrf", "mode": "eager", "q_path": os.path.join(tmp, "eager.npy")})
            q_ref, q = np.load(os.path.join(tmp, "ref.npy")), np.load(os.path.join(tmp, "ours.npy"))
            iterate_s = ours["seconds"] - ours["lattice_build_s"]
            print(json.dumps({
                "benchmark": "densecrf",
                "size": [width, height],
                "labels": 21,
                "iterations": iterations,
                "kseg_s": round(ours["seconds"], 3),
                "kseg_eager_s": round(eager["seconds"], 3),
                "pydensecrf_s": round(ours["reference_seconds"], 3),
                "time_ratio": round(ours["seconds"] / ours["reference_seconds"], 3),
                "time_ratio_eager": round(eager["seconds"] / eager["reference_seconds"], 3),
                "map_agreement": round(float((q.argmax(-1) == q_ref.argmax(-1)).mean()), 5),
                "mean_abs_dq": float(np.abs(q - q_ref).mean()),
                "kseg_peak_mb": round(ours["peak_mb"], 1),
                "kseg_eager_peak_mb": round(eager["peak_mb"], 1),
                "pydensecrf_peak_mb": round(ref["peak_mb"], 1),
                "peak_ratio": round(max(ours["peak_mb"], eager["peak_mb"]) / ref["peak_mb"], 3),
                "kseg_lattice_build_s": round(ours["lattice_build_s"], 3),
                "kseg_iterations_s": round(iterate_s, 3),
                "kseg_lattice_build_fraction": round(ours["lattice_build_s"] / ours["seconds"], 3),
                "copy_bandwidth_gbs": round(bandwidth, 1),
                "bandwidth_floor_s": round(floor_bytes(width, height, 21, iterations) / bandwidth / 1e9, 3),
                "kseg_fraction_of_floor": round(floor_bytes(width, height, 21, iterations) / bandwidth / 1e9 / ours["seconds"], 3),
            }), flush=True)
    width, height = 500, 375
    _, logits, labels = inputs(width, height)
    spec = dict(width=width, height=height, repeats=args.repeats)
    conv = spawn({**spec, "iterations": 5, "impl": "convcrf", "q_path": os.path.join(tmp, "conv.npy")})
    dense = spawn({**spec, "iterations": 10, "impl": "densecrf", "q_path": os.path.join(tmp, "dense.npy")})
    q_conv, q_dense = np.load(os.path.join(tmp, "conv.npy")), np.load(os.path.join(tmp, "dense.npy"))
    print(json.dumps({
        "benchmark": "convcrf",
        "size": [width, height],
        "labels": 21,
        "filter_size": 7,
        "blur": 4,
        "iterations": 5,
        "convcrf_s": round(conv["seconds"], 3),
        "densecrf10_s": round(dense["seconds"], 3),
        "time_ratio_conv_over_dense": round(conv["seconds"] / dense["seconds"], 3),
        "convcrf_peak_mb": round(conv["peak_mb"], 1),
        "pixel_accuracy_unary": round(float((logits.argmax(-1) == labels).mean()), 4),
        "pixel_accuracy_convcrf": round(float((q_conv.argmax(-1) == labels).mean()), 4),
        "pixel_accuracy_densecrf10": round(float((q_dense.argmax(-1) == labels).mean()), 4),
        "agreement_conv_dense": round(float((q_conv.argmax(-1) == q_dense.argmax(-1)).mean()), 4),
    }), flush=True)


if __name__ == "__main__":
    main()
