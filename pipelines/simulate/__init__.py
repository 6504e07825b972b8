"""The simulated school's tools, one module per dialect (the xAPI tools still live in
``pipelines/simulator.py`` and move here one by one; see docs/architecture.md)."""
