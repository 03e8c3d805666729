"""Binding a function of a Dataset as a method, with its signature (minus the Dataset) and docstring."""
import inspect

__all__ = ["bound_method", "without_parameter"]


def without_parameter(doc, name):
    """A docstring without the entry of one parameter in its Parameters section.

    Parameters
    ----------
    doc : str
        A numpydoc docstring, cleaned (:func:`inspect.cleandoc`).
    name : str
        The parameter whose entry (its ``name : type`` line and the indented
        lines under it) is removed; it must be the first one documented.

    Returns
    -------
    str
        ``doc`` without that entry.

    Raises
    ------
    ValueError
        If the first documented parameter is not `name`.
    """
    lines = doc.splitlines()
    start = lines.index("Parameters") + 2
    if not lines[start].startswith(f"{name} :"):
        raise ValueError(f"the first documented parameter is not {name!r}: {lines[start]!r}")
    stop = start + 1
    while stop < len(lines) and (lines[stop].startswith(" ") or not lines[stop]):
        stop += 1
    return "\n".join(lines[:start] + lines[stop:])


def bound_method(func):
    """A function of a Dataset as a method of an object holding the Dataset in ``self._ds``.

    Parameters
    ----------
    func : callable
        ``func(ds, ...)``, with a numpydoc docstring documenting ``ds`` first.

    Returns
    -------
    callable
        The method, with ``func``'s docstring (without the entry of its first
        parameter) and signature (its first parameter replaced by ``self``),
        so that ``ds.lrs.plot.frame?`` in Jupyter and Sphinx show the
        function's own documentation.
    """
    signature = inspect.signature(func)
    params = list(signature.parameters.values())

    def method(self, *args, **kwargs):
        return func(self._ds, *args, **kwargs)

    method.__name__ = method.__qualname__ = func.__name__
    method.__doc__ = without_parameter(inspect.cleandoc(func.__doc__), params[0].name) + "\n"
    method.__module__ = func.__module__
    method.__signature__ = signature.replace(
        parameters=[inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *params[1:]])
    return method
