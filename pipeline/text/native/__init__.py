"""Compiled code of the text stage (Cython, built by ``make setup``): see ``_hotpath.pyx``.

The pure-Python implementations stay the reference (``pipeline.text.clauses.split_clauses``,
``LinearSentimentModel(implementation="python")``); unit tests check that both agree.
"""
