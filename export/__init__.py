"""Deployment commands: `python -m export.saved_model`, `python -m export.onnx`,
`python -m export.client`. The work lives in `kseg.serving`."""
