"""One task per model family: what training, evaluating and exporting each paper's model
needs (see `Task`). Importing this package registers them by architecture name."""

from kseg.training.tasks.base import TASKS, Task, get_task, parameter_count, register_task  # noqa: F401
# Registered in the order the papers are listed (it is the order error messages list them in).
from kseg.training.tasks import segmentation  # noqa: F401,I001  (pan, deeplabv2)
from kseg.training.tasks import adversarial  # noqa: F401  (seggan, ssgan)
from kseg.training.tasks import relationnet  # noqa: F401
