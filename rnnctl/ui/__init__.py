"""Terminal views: the only modules besides ``rnnctl.cli`` that import Rich.

``progress`` (rnnctl train's bar), ``sweep`` (the live job table and the log view), ``tables``
(report tables). The library reports through observer objects and plain data; these turn them
into what a person sees on a terminal.
"""
