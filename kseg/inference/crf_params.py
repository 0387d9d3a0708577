"""Which CRF parameters a command uses: those `training.tune_crf` found for the run
(`<run>/crf_search.json`, DeepLab v2 §4.1.1: tuned on val, then applied), overridden by
`--crf-params`, else the layer's defaults."""

import inspect
import json
import os

from kseg.run_folder import RunFolder

TUNED = ("bilateral_weight", "theta_alpha", "theta_beta", "num_iterations")  # what the search decides


def parse_crf_params(text, crf):
    """`"bilateral_weight=4,theta_alpha=121"` -> {name: float or int} of the `crf` layer's
    constructor arguments; a ValueError naming a pair it cannot read or an unknown name."""
    from kseg.layers.crf import CRF_LAYERS

    accepted = [name for name in inspect.signature(CRF_LAYERS[crf].__init__).parameters if name not in ("self", "kwargs")]
    params = {}
    for pair in filter(None, (part.strip() for part in (text or "").split(","))):
        name, _, value = pair.partition("=")
        if name.strip() not in accepted:
            raise ValueError(f"--crf-params: {name.strip()!r} is not an argument of the {crf} CRF; it takes {', '.join(accepted)}")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"--crf-params: {pair!r} is not name=number") from None
        params[name.strip()] = int(number) if name.strip() == "num_iterations" else number
    return params


def tuned_crf_params(model_path):
    """(params, file) from the `crf_search.json` of the run `model_path` is (or lies in);
    ({}, None) when there is none."""
    path = RunFolder.of(model_path).crf_search
    if not os.path.isfile(path):
        return {}, None
    try:
        with open(path) as f:
            search = json.load(f)
        best = search["best"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a training.tune_crf result ({error})") from None
    params = {name: best[name] for name in TUNED if name in best}
    if "num_iterations" in search and "num_iterations" not in params:
        params["num_iterations"] = int(search["num_iterations"])
    return params, path


def crf_settings(crf, model_path, given_text=None):
    """{"crf", "params", "source"} for the command's `--crf` (None: no CRF): for "dense", the
    run's tuned parameters updated by `--crf-params`; otherwise `--crf-params` alone."""
    if crf is None:
        if given_text:
            raise ValueError("--crf-params needs --crf")
        return None
    given = parse_crf_params(given_text, crf)
    tuned, path = tuned_crf_params(model_path) if crf == "dense" else ({}, None)
    params = {**tuned, **given}
    if given:
        source = "--crf-params" + (f" over {path}" if path else "")
    else:
        source = path or "the layer's defaults"
    return {"crf": crf, "params": params, "source": source}


def describe(settings):
    """One line: `crf dense: bilateral_weight=4 theta_alpha=121 theta_beta=5 (from runs/x/crf_search.json)`."""
    values = " ".join(f"{name}={value:g}" for name, value in settings["params"].items()) or "defaults"
    return f"crf {settings['crf']}: {values} (from {settings['source']})"
