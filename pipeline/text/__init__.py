"""The text stage, pure functions: normalize and mask (``normalize``), tokenize, split
clauses, score sentence sentiment (``sentiment``, compiled in ``native``), match aspects
(``aspects``, ``aspect_model``), and the :class:`~pipeline.text.analysis.Analyzer` that runs
them on one feedback; training and evaluation of the models beside them."""
