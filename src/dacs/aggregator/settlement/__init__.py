"""Settlement: baselines, delivered flexibility, residents' remuneration, statements.

The pure parts (``baseline``, ``delivered``, ``remuneration``, ``periods``)
are functions over plain data and NumPy arrays; ``telemetry_source``,
``statements`` and ``export`` read and write the database around them.
"""
