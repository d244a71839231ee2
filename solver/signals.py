"""Signal handlers installed for a block and restored after it."""

import contextlib
import signal


@contextlib.contextmanager
def signal_handlers(handlers: dict):
    """Install `handlers` (signal number -> handler) for the block, then restore the ones
    before it. Off the main thread (an embedding application) signals do not reach the
    block anyway: it runs as is."""
    try:
        previous = {number: signal.signal(number, handler)
                    for number, handler in handlers.items()}
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
