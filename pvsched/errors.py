"""Errors raised for bad scenarios."""


class ScenarioError(ValueError):
    """A scenario field has a bad value. The message starts with the field path.

    >>> raise ScenarioError("tasks[2].nice", -21, "must be in -20..19")
    Traceback (most recent call last):
    ...
    pvsched.errors.ScenarioError: tasks[2].nice = -21: must be in -20..19

    A problem with a whole file has no value: ``ScenarioError("x.toml", ScenarioError.NO_VALUE,
    "no such file")`` reads ``x.toml: no such file``.
    """

    NO_VALUE = type("NoValue", (), {"__repr__": lambda self: "<no value>"})()

    def __init__(self, path: str, value: object, problem: str):
        self.path = path
        self.value = value
        self.problem = problem
        super().__init__(f"{path}: {problem}" if value is self.NO_VALUE else f"{path} = {value!r}: {problem}")


class NotModelledError(NotImplementedError):
    """The scenario asks for something pvsched does not model yet."""


class PolicyError(RuntimeError):
    """A Python policy's hook raised; the run stopped at that simulated time. The original
    exception is the ``__cause__``; the engine cannot run on."""


class ScenarioWarning(UserWarning):
    """A scenario value that is allowed but probably not meant (e.g. a periodic task that overruns
    every period)."""


class SliceClampedWarning(UserWarning):
    """A custom slice outside [0.1 ms, 100 ms] was clamped, as ``sched_setattr()`` clamps it."""
