"""Text for error messages: long lists cut to their first items and a count of the rest."""


def first_items(items, limit, sep=', '):
    """``items`` (strings) joined with ``sep``, cut after ``limit``: ``'a, b, and 3 more'``."""
    items = list(items)
    rest = len(items) - limit
    return sep.join(items[:limit]) + (f'{sep.rstrip()} and {rest} more' if rest > 0 else '')
