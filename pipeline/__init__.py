"""voc-pipeline: the pipeline logic below the agents and above the sinks.

``stages`` (the batch logic of every agent), ``ingest`` and ``dead_letters`` are the stream
logic; the rooms hold the rest: ``text``, ``detection``, ``runtime``, ``reporting``, ``ops``,
``tools`` and ``cli`` (one module per command group).
"""
