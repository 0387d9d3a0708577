"""The no-argument run (`python -m training.fit`): the one recipe written in code, because the
schema's defaults are it. A PAN (FPA + GAU, Li et al. §3) on ResNet-50's bottleneck blocks, two
per stage at a quarter of their width (2.0 M parameters with the decoder at 32 filters), which
learns the built-in data from scratch in minutes on a 2-core CPU without bfloat16 units
(docs/benchmarks.md): 2400 steps of SGD at 0.1 after 100 warmup steps, on cross-entropy plus
Dice (the Dice term keeps the late-learnt classes from depending on the seed; 2400 rather than
1800 keep the score from depending on the machine's rounding: 1800 steps gave 79.2% on an
AVX-512 EPYC's Eigen kernels and 70.0% on an AVX2-only one's, 2400 steps 82.7%). Those values
are the schema's defaults; the paper recipes pin their own. Every other recipe is a file in
training/configs/."""

ARCHITECTURE = "pan"
BACKBONE = "resnet50"
BACKBONE_OPTIONS = {"blocks": [2, 2, 2, 2], "stage_filters": [16, 32, 64, 128]}
DECODER_FILTERS = 32
