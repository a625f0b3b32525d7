"""Lambda's SnapStart lifecycle as the python runtime runs it (awslambdaric's
lambda_runtime_hooks_runner, which the managed runtime uses): once init is done, the before-snapshot
hooks in the reverse order of their registration, each taken off the registry; then, in each
environment restored from the snapshot, the after-restore hooks in the order of their registration.
The tests and the benchmark run the app's hooks (app/snapstart.py) through it.
"""

from snapshot_restore_py import get_after_restore, get_before_snapshot


def run_before_snapshot() -> None:
    hooks = get_before_snapshot()
    while hooks:
        function, args, kwargs = hooks.pop()
        function(*args, **kwargs)


def run_after_restore() -> None:
    for function, args, kwargs in get_after_restore():
        function(*args, **kwargs)
