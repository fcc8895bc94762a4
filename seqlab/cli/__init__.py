"""The ``seqlab`` command line: ``parser`` (every command and option, light to import), ``main`` (what
each command does; the only place that prints errors and exits), ``init_config`` and ``debug_data``
(``seqlab init config`` and ``seqlab debug data``)."""
