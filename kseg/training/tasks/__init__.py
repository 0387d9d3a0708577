"""What training, evaluating and exporting each model family needs (see `Task`). Each family
defines its task in `kseg/models/<family>/task.py`, beside its model; importing this package
loads the task module of every registered architecture, which registers it by name."""

import importlib
import importlib.util

from kseg.training.tasks.base import TASKS, Task, get_task, parameter_count, register_task

__all__ = ["TASKS", "Task", "get_task", "parameter_count", "register_task"]


def _load_family_tasks():
    """Imports `<family>.task` for the package each architecture's model class is defined in
    (`kseg.models.ARCHITECTURES`, in the order the families register: the order error messages
    list them in). A family registered from outside kseg registers its task itself."""
    from kseg.models import ARCHITECTURES

    for model_class in list(ARCHITECTURES.values()):
        module = f"{model_class.__module__.rsplit('.', 1)[0]}.task"
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)


_load_family_tasks()
