"""Binding a function of a Dataset as a method, with its signature (minus the Dataset) and docstring."""
import inspect

__all__ = ["bound_method"]


def bound_method(func):
    """``func(ds, ...)`` as a method of an object holding the Dataset in ``self._ds``.

    The method carries ``func``'s docstring and signature (its first
    parameter replaced by ``self``), so that ``ds.lrs.clean?`` in Jupyter and
    Sphinx show the step's own documentation.
    """
    signature = inspect.signature(func)
    params = list(signature.parameters.values())[1:]

    def method(self, *args, **kwargs):
        return func(self._ds, *args, **kwargs)

    method.__name__ = method.__qualname__ = func.__name__
    method.__doc__ = func.__doc__
    method.__module__ = func.__module__
    method.__signature__ = signature.replace(
        parameters=[inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *params])
    return method
