# kvmbox error type: a failure of kvmbox itself (reported as "kvmbox: ..." with exit status 125).
class BoxError(Exception):
    """A box failure; str(error) is the one-line message, log is the kernel log path worth showing, if any."""

    def __init__(self, message, log=None):
        super().__init__(message)
        self.log = log
