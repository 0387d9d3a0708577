"""Training and evaluation commands (`python -m training.fit`, `python -m training.evaluate`).

Not yet implemented: see the training issue. The library code they will drive lives in `kseg`.
"""
