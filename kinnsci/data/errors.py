"""Re-export of :class:`kinnsci.errors.DataError` (its home before 0.2)."""

from kinnsci.errors import DataError

__all__ = ["DataError"]
