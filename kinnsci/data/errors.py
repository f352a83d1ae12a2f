"""The one exception type for problems with a user's data files."""


class DataError(ValueError):
    """A data file or variable cannot be used as asked; the message says how to fix it."""
