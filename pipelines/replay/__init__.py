"""``python -m pipelines replay``: backfill and replay statements (issue 16).

``cli`` (the arguments, stdlib only, so ``--help`` stays fast), ``run`` (the wiring), and the
parts it wires: ``core`` (pure: validate, pin ids, count, plan requests), ``files``, ``remote``
(another LRS, resumable) and ``deadletters`` (the dead-letter topic) as sources, ``sinks`` as
destinations (Kafka, another LRS, the warehouse in bulk).
"""
