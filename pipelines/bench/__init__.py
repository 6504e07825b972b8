"""``make bench``, the benchmark package: what the pipeline does next to the physical limits.

* :mod:`pipelines.bench.run`: the orchestration, phases in order (``python -m pipelines.bench``);
* :mod:`pipelines.bench.get`: the GET-latency phase (record generator, timings);
* :mod:`pipelines.bench.load`: the workload, the child processes, the Kafka and HTTP clients;
* :mod:`pipelines.bench.pages`: the teacher app pages phase (``python -m pipelines.bench.pages``);
* :mod:`pipelines.bench.report`: the pure half (measures, ratios, the table and the JSON).

Nothing is imported here, so that ``python -m pipelines.bench.pages`` runs that phase alone.
"""
