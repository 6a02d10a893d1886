"""Scaffolding that exercises what ships: never imported by shipped code.

``sim`` is the heat pump and neighbourhood simulator, ``grid_peers`` the
grid operators' stand-ins (an OpenADR 3 VTN, a GOPACS DSO), ``neighbourhood``
the demo and its scenarios, ``services`` starts real Mosquitto, PostgreSQL or
an in-process broker for tests and the demo.
"""
