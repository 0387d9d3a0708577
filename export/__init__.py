"""Exporters (`python -m export.saved_model`, `python -m export.onnx`).

Not yet implemented: see the deployment issue.
"""
