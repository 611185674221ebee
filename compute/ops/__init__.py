"""The operations. Importing this package registers every one of them in :mod:`compute.registry`."""

from . import attention, elementwise, normalization, products, reductions  # noqa: F401
