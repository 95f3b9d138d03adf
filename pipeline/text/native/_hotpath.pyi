"""Types of the compiled module ``_hotpath.pyx`` (see its docstring)."""

from collections.abc import Collection, Sequence

from pipeline.text.clauses import Clause

class ClauseSplitter:
    """``pipeline.text.clauses.split_clauses``, compiled."""

    def __init__(
        self,
        clause_type: type[Clause],
        boundary_characters: str,
        question_marks: tuple[str, ...],
        contrast: Collection[str],
        conditional_contrast: str,
        weakening_prefixes: tuple[str, ...],
        not_contrast_after: Collection[str],
    ) -> None: ...
    def __call__(self, text: str, tokens: Sequence[str]) -> list[Clause]: ...

class CompiledWeights:
    """The weights of a ``LinearSentimentModel`` laid out for compiled scoring."""

    domains: int
    def __init__(
        self,
        word_weights: dict[str, float],
        bigram_weights: dict[str, float],
        domain_word_weights: tuple[dict[str, float], ...],
        domain_bigram_weights: tuple[dict[str, float], ...],
        router_weights: dict[str, tuple[float, ...]],
        router_bias: tuple[float, ...],
        opinion_threshold: float,
        negators: Collection[str],
        negated_prefix: str,
        bigram_join: str,
        sentence_start: str,
        sentence_end: str,
        splitter: ClauseSplitter,
    ) -> None: ...
    def domain_of(self, words: Sequence[str]) -> int: ...
    def clause_log_odds(self, clause: Clause, domain: int) -> float: ...
    def opinion_words(self, tokens: Sequence[str]) -> list[str]: ...
    def read(self, text: str, tokens: Sequence[str]) -> tuple[list[Clause], int, list[float]]: ...
