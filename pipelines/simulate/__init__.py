"""The simulated school's tools, one module per dialect.

``school`` (roster, CASE framework, seeded student plans), ``base`` (SimEvent, vocabulary,
generator core), the xAPI tools ``lms``, ``quiz``, ``video``, ``reader``, ``forum`` and
``checkin``, the Caliper LMS ``caliper``, the deliberately invalid events ``invalid``, and
``events`` (the seeded walk that drives the tools, ordering and output).
``pipelines/simulator.py`` re-exports the public names and holds the command line.
"""
