"""Conventions every module shares and the names users choose among, each defined once."""

IGNORE_LABEL = 255  # label pixels carrying no supervision (VOC borders, Cityscapes void); also the padding label

PALETTE_NAMES = ("voc", "cityscapes")  # data.palette by name: kseg.data.palettes
CRF_NAMES = ("dense", "conv")  # kseg.layers.DenseCRF, kseg.layers.ConvCRF
STRATEGIES = ("default", "mirrored", "multi_worker")  # tf.distribute; multi_worker reads TF_CONFIG
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")  # Keras dtype policies; auto: kseg.training.precision
INFERENCE_PRECISIONS = ("float32", "bfloat16")  # --precision of evaluate, predict, export.saved_model
OPTIMIZERS = ("sgd", "adamw")  # optimizer.name: SGD with the papers' coupled L2 | AdamW (decoupled decay)
SCHEDULES = ("poly", "cosine", "step")  # optimizer.schedule
SEGMENTATION_LOSSES = ("cross_entropy", "ohem", "focal", "dice", "tversky", "lovasz")  # terms of train.loss
CLASS_WEIGHTINGS = ("inverse_frequency", "median_frequency")  # train.class_weights computed from the labels
EXPORT_MODELS = ("last", "best")  # export.model: the final weights | the best by val mIoU (train.eval_every)
DATA_FORMATS = ("builtin", "voc", "cityscapes", "folder", "records")
CITYSCAPES_ANNOTATIONS = ("gtFine", "gtCoarse")
TTA_FUSIONS = ("mean", "max")  # multi-scale fusion: PAN's softmax mean | DeepLab's MSC max
OUTPUT_STRIDES = (8, 16, 32)  # backbones reach these by dilation (DeepLab §3.1)
BATCH_NORM_POLICIES = ("train", "frozen", "sync")  # per-replica statistics | backbone fixed (DeepLab) | cross-replica
# Where a training loss compares logits and labels: logits upsampled to the input | labels
# subsampled to the logits' output stride (DeepLab v2 §4, "ground truth subsampled by 8").
LOSS_RESOLUTIONS = ("input", "output_stride")

# Image files by suffix: what the SavedModel's own decoder reads (JPEG, PNG, GIF, BMP), and
# every picture kseg reads (the others through Pillow: training folders, training.predict).
SERVED_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp")
IMAGE_SUFFIXES = SERVED_SUFFIXES + (".webp", ".tif", ".tiff")

# The exported SavedModel's signatures: encoded images (TF Serving's default) | float images.
SERVING_SIGNATURE = "serving_default"
TENSOR_SIGNATURE = "predict_tensor"
# The serving size policy (kseg.serving.graph): images whose longer side exceeds MAX_SIDE run
# through the network downscaled; images of more than MAX_PIXELS pixels are refused undecoded.
MAX_SIDE = 2048
MAX_PIXELS = 50_000_000
# An exported graph (ONNX, float TFLite) is accepted when its labels agree with the Keras
# model's on at least this fraction of the check pictures' pixels.
MIN_LABEL_AGREEMENT = 0.999
