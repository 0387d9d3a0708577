"""The training commands: `python -m training.fit` (train, evaluate, export a recipe),
`python -m training.evaluate` (score a run with test-time options) and
`python -m training.tune_crf` (DeepLab's CRF grid search). They parse arguments and call
`kseg.training`; `configs/` holds one recipe per paper and dataset."""
