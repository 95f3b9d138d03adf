# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled clause split and linear-model scoring: the analyzer's inner loop in C.

Two classes, each the compiled twin of a pure-Python reference that stays the definition
(unit tests check that both give the same clauses and the same scores to 1e-9):

- :class:`ClauseSplitter` is :func:`pipeline.text.clauses.split_clauses`.
- :class:`CompiledWeights` is the scoring of :class:`pipeline.text.sentiment.LinearSentimentModel`
  (``domain_of``, ``clause_log_odds``, ``opinion_words``), plus :meth:`CompiledWeights.read`,
  which splits a segmented text, picks its domain and scores each clause in one call.

How the weights are laid out. Every string the model's word-level keys are made of (a word,
the word of a ``!word``, either side of a ``prev_word`` bigram at any ``_``) gets an integer
id in one Python dict, so that a token costs one dict lookup (its hash is cached on the
string) and no feature string is ever built: the weight of the word, of its negated form and
of the router are arrays indexed by id, a word bigram is a C hash table keyed by the pair of
ids, and a character bigram one keyed by its two code points. Each entry holds the weight of
every domain (the domain's own weight where it has one, else the shared one), so scoring adds
the same numbers in the same order as the reference. Splitting a key at each ``_`` is exact:
``prev + "_" + word == key`` holds exactly when ``key`` splits into ``prev`` and ``word`` at
one of its ``_``.
"""

from cpython.dict cimport PyDict_GetItem
from cpython.list cimport PyList_GET_SIZE
from cpython.ref cimport PyObject
from libc.stdint cimport int32_t, uint8_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memset

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    int PyUnicode_KIND(object)
    void* PyUnicode_DATA(object)
    Py_UCS4 PyUnicode_READ(int kind, void* data, Py_ssize_t index)
    bint Py_UNICODE_ISSPACE(Py_UCS4 ch)

cdef enum:
    MAX_BOUNDARY = 64
    NEGATOR = 1  # flags of a word id
    OPINION = 2
    OPINION_NEGATED = 4

cdef uint64_t EMPTY = 0xFFFFFFFFFFFFFFFF  # no key in this slot


# --- clause split ----------------------------------------------------------------------------


cdef class ClauseSplitter:
    """:func:`pipeline.text.clauses.split_clauses`, compiled; built from that module's rules
    (``pipeline.text.clauses.compiled_split_clauses`` builds the one instance)."""

    cdef object _clause
    cdef Py_UCS4 _boundary[MAX_BOUNDARY]
    cdef int _boundary_count
    cdef tuple _question_marks
    cdef frozenset _contrast
    cdef frozenset _candidates
    cdef str _conditional
    cdef tuple _weakening
    cdef frozenset _not_after

    def __init__(
        self,
        clause_type,
        str boundary_characters,
        tuple question_marks,
        contrast,
        str conditional_contrast,
        tuple weakening_prefixes,
        not_contrast_after,
    ):
        if len(boundary_characters) > MAX_BOUNDARY:
            raise ValueError(f"at most {MAX_BOUNDARY} boundary characters")
        self._clause = clause_type
        self._boundary_count = 0
        cdef Py_UCS4 ch
        for ch in boundary_characters:
            self._boundary[self._boundary_count] = ch
            self._boundary_count += 1
        self._question_marks = question_marks
        self._contrast = frozenset(contrast)
        self._candidates = self._contrast | {conditional_contrast}
        self._conditional = conditional_contrast
        self._weakening = weakening_prefixes
        self._not_after = frozenset(not_contrast_after)

    def __call__(self, str text, tokens):
        """Clauses of ``text`` segmented as ``tokens`` (see ``pipeline.text.clauses``)."""
        return self._split(text, _as_list(tokens), None, NULL)

    cdef inline bint _only_boundary(self, str token):
        """``not token.strip(boundary_characters)``."""
        cdef Py_ssize_t n = PyUnicode_GET_LENGTH(token), i
        cdef int kind = PyUnicode_KIND(token), j
        cdef void* data = PyUnicode_DATA(token)
        cdef Py_UCS4 ch
        for i in range(n):
            ch = PyUnicode_READ(kind, data, i)
            for j in range(self._boundary_count):
                if self._boundary[j] == ch:
                    break
            else:
                return False
        return True

    cdef list _split(self, str text, list tokens, CompiledWeights weights, _Buffer* ids):
        """The clauses; with ``weights``, the id of each clause word is appended to
        ``ids.words`` and where each clause starts there to ``ids.starts``."""
        cdef list clauses = []
        cdef list words = []
        cdef Py_ssize_t first = 0, last = 0, position = 0, end, index
        cdef Py_ssize_t count = PyList_GET_SIZE(tokens)
        cdef str previous = ""
        cdef str token, following
        cdef object clause_type = self._clause
        for index in range(count):
            token = tokens[index]
            end = position + PyUnicode_GET_LENGTH(token)
            if self._only_boundary(token):
                if words:
                    clauses.append(tuple.__new__(
                        clause_type, (text[first:last], first, last, words, token in self._question_marks)
                    ))
                    words = []
            elif _is_space(token):
                # Ends a clause next to a Chinese word, or when a line break or a wide gap.
                following = tokens[index + 1] if index + 1 < count else ""
                if words and (
                    PyUnicode_GET_LENGTH(token) > 1
                    or _has_newline(token)
                    or not PyUnicode_IS_ASCII(previous)
                    or not PyUnicode_IS_ASCII(following)
                ):
                    clauses.append(tuple.__new__(clause_type, (text[first:last], first, last, words, False)))
                    words = []
            else:
                if (
                    words
                    and token in self._candidates
                    and previous not in self._not_after
                    and self._starts_contrast(token, tokens, index)
                ):
                    clauses.append(tuple.__new__(clause_type, (text[first:last], first, last, words, False)))
                    words = []
                if not words:
                    first = position
                    if weights is not None:
                        _push(&ids.starts, ids.words.size)
                if weights is not None:
                    _push(&ids.words, weights._id(token))
                words.append(token)
                last = end
            previous = token
            position = end
        if words:
            clauses.append(tuple.__new__(clause_type, (text[first:last], first, last, words, False)))
        return clauses

    cdef bint _starts_contrast(self, str token, list tokens, Py_ssize_t index):
        if token in self._contrast:
            return True
        if token == self._conditional and index + 1 < PyList_GET_SIZE(tokens):
            following: str = tokens[index + 1]
            return following.startswith(self._weakening)
        return False


cdef inline bint _is_space(str token):
    """``token.isspace()``."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(token), i
    cdef int kind = PyUnicode_KIND(token)
    cdef void* data = PyUnicode_DATA(token)
    if n == 0:
        return False
    for i in range(n):
        if not Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i)):
            return False
    return True


cdef inline bint _has_newline(str token):
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(token), i
    cdef int kind = PyUnicode_KIND(token)
    cdef void* data = PyUnicode_DATA(token)
    for i in range(n):
        if PyUnicode_READ(kind, data, i) == 10:
            return True
    return False


cdef list _as_list(tokens):
    cdef list result
    if type(tokens) is list:
        result = tokens
    else:
        result = list(tokens)
    for token in result:
        if type(token) is not str:
            raise TypeError(f"tokens must be str, not {type(token).__name__}")
    return result


# --- growable int buffer ---------------------------------------------------------------------


cdef struct _Ints:
    int32_t* data
    Py_ssize_t size
    Py_ssize_t capacity


cdef struct _Buffer:
    _Ints words  # the id of each clause word, clause after clause
    _Ints starts  # where each clause starts in words


cdef inline _Ints _empty() noexcept:
    cdef _Ints ints
    ints.data = NULL
    ints.size = ints.capacity = 0
    return ints


cdef inline int _push(_Ints* ints, Py_ssize_t value) except -1:
    cdef int32_t* grown
    if ints.size == ints.capacity:
        ints.capacity = ints.capacity * 2 if ints.capacity else 64
        grown = <int32_t*>realloc(ints.data, ints.capacity * sizeof(int32_t))
        if grown == NULL:
            raise MemoryError()
        ints.data = grown
    ints.data[ints.size] = <int32_t>value
    ints.size += 1
    return 0


# --- hash table: uint64 key → int32 value, open addressing, linear probing ------------------


cdef struct _Table:
    uint64_t* keys
    int32_t* values
    int shift
    uint64_t mask


cdef int _table_init(_Table* table, Py_ssize_t entries) except -1:
    cdef int bits = 4
    while (<Py_ssize_t>1 << bits) < 2 * entries:
        bits += 1
    cdef Py_ssize_t size = <Py_ssize_t>1 << bits
    table.keys = <uint64_t*>malloc(size * sizeof(uint64_t))
    table.values = <int32_t*>malloc(size * sizeof(int32_t))
    if table.keys == NULL or table.values == NULL:
        raise MemoryError()
    memset(table.keys, 0xFF, size * sizeof(uint64_t))
    table.shift = 64 - bits
    table.mask = size - 1
    return 0


cdef inline Py_ssize_t _slot(const _Table* table, uint64_t key) noexcept nogil:
    cdef uint64_t slot = (key * <uint64_t>0x9E3779B97F4A7C15) >> table.shift
    while table.keys[slot] != key and table.keys[slot] != EMPTY:
        slot = (slot + 1) & table.mask
    return <Py_ssize_t>slot


cdef inline void _table_put(_Table* table, uint64_t key, int32_t value) noexcept nogil:
    cdef Py_ssize_t slot = _slot(table, key)
    table.keys[slot] = key
    table.values[slot] = value


cdef inline int32_t _table_get(const _Table* table, uint64_t key) noexcept nogil:
    cdef Py_ssize_t slot = _slot(table, key)
    return table.values[slot] if table.keys[slot] == key else -1


cdef void _table_free(_Table* table) noexcept:
    free(table.keys)
    free(table.values)
    table.keys = NULL
    table.values = NULL


# --- the model -------------------------------------------------------------------------------


cdef class CompiledWeights:
    """The weights of a ``LinearSentimentModel`` laid out for compiled scoring (module doc).

    Built from the model's fields (``LinearSentimentModel`` builds it when its
    ``implementation`` is ``"compiled"``); scores equal the reference's to rounding.
    """

    cdef readonly int domains
    cdef dict _ids
    cdef Py_ssize_t _count
    cdef double* _word          # [id * domains + d]: weight of the word itself
    cdef double* _negated       # [id * domains + d]: weight of "!" + word
    cdef uint8_t* _flags        # NEGATOR, OPINION, OPINION_NEGATED
    cdef int32_t* _router_row   # [id]: row of _router, or -1
    cdef double* _router        # [row * domains + d]
    cdef uint8_t* _router_seen  # [row], all 0 between calls
    cdef double* _router_bias
    cdef bint _router_ok        # one router bias per domain (else domain_of raises, as the reference)
    cdef _Table _pairs          # (id << 32 | id) → id of the bigram key, weights in _word
    cdef _Table _chars          # (code point << 32 | code point) → row of _char
    cdef double* _char
    cdef int32_t _start
    cdef int32_t _end
    cdef ClauseSplitter _splitter

    def __cinit__(self):
        self._word = self._negated = self._router = self._router_bias = self._char = NULL
        self._flags = self._router_seen = NULL
        self._router_row = NULL
        self._pairs.keys = self._chars.keys = NULL
        self._pairs.values = self._chars.values = NULL

    def __init__(
        self,
        dict word_weights,
        dict bigram_weights,
        tuple domain_word_weights,
        tuple domain_bigram_weights,
        dict router_weights,
        tuple router_bias,
        double opinion_threshold,
        negators,
        str negated_prefix,
        str bigram_join,
        str sentence_start,
        str sentence_end,
        ClauseSplitter splitter,
    ):
        cdef int domains = len(domain_word_weights), d
        if domains < 1 or len(domain_bigram_weights) != domains:
            raise ValueError("one word and one bigram override dict per domain")
        if len(negated_prefix) != 1 or len(bigram_join) != 1:
            raise ValueError("the negation prefix and the bigram join must be one character")
        self.domains = domains
        self._splitter = splitter
        cdef dict ids = {}
        self._ids = ids
        # Every word-level key first, so that a key's id is its row in _word.
        for key in word_weights:
            ids[key] = len(ids)
        for own in domain_word_weights:
            for key in own:
                if key not in ids:
                    ids[key] = len(ids)
        cdef Py_ssize_t keys = len(ids)
        for word in (*router_weights, *negators, sentence_start, sentence_end):
            if word not in ids:
                ids[word] = len(ids)
        # Then the parts of keys: the word of "!word", both sides of "prev_word" at each "_".
        cdef _Ints negated_of = _empty(), pair_left = _empty(), pair_right = _empty(), pair_key = _empty()
        cdef Py_ssize_t index, at
        cdef str text
        try:
            for text, index in list(ids.items())[:keys]:
                if text.startswith(negated_prefix):
                    _push(&negated_of, index)
                    _push(&negated_of, _intern(ids, text[1:]))
                at = text.find(bigram_join)
                while at >= 0:
                    _push(&pair_key, index)
                    _push(&pair_left, _intern(ids, text[:at]))
                    _push(&pair_right, _intern(ids, text[at + 1 :]))
                    at = text.find(bigram_join, at + 1)
            self._count = len(ids)
            if self._count >= 2**31 - 1:
                raise ValueError("too many words")
            self._allocate(len(router_weights))
            self._fill_words(word_weights, domain_word_weights, keys)
            for index in range(0, negated_of.size, 2):
                for d in range(domains):
                    self._negated[negated_of.data[index + 1] * domains + d] = self._word[
                        negated_of.data[index] * domains + d
                    ]
            _table_init(&self._pairs, pair_key.size)
            for index in range(pair_key.size):
                _table_put(
                    &self._pairs,
                    (<uint64_t>pair_left.data[index] << 32) | <uint64_t>pair_right.data[index],
                    pair_key.data[index],
                )
        finally:
            free(negated_of.data)
            free(pair_left.data)
            free(pair_right.data)
            free(pair_key.data)
        self._fill_bigrams(bigram_weights, domain_bigram_weights)
        self._fill_router(router_weights, router_bias)
        for word in negators:
            self._flags[<Py_ssize_t>ids[word]] |= NEGATOR
        for key, weight in word_weights.items():
            if abs(weight) >= opinion_threshold:
                self._flags[<Py_ssize_t>ids[key]] |= OPINION
                if key.startswith(negated_prefix):
                    self._flags[<Py_ssize_t>ids[key[1:]]] |= OPINION_NEGATED
        self._start = ids[sentence_start]
        self._end = ids[sentence_end]

    cdef int _allocate(self, Py_ssize_t router_rows) except -1:
        cdef Py_ssize_t cells = self._count * self.domains
        self._word = <double*>calloc(cells, sizeof(double))
        self._negated = <double*>calloc(cells, sizeof(double))
        self._flags = <uint8_t*>calloc(self._count, sizeof(uint8_t))
        self._router_row = <int32_t*>malloc(self._count * sizeof(int32_t))
        self._router = <double*>calloc(router_rows * self.domains + 1, sizeof(double))
        self._router_seen = <uint8_t*>calloc(router_rows + 1, sizeof(uint8_t))
        self._router_bias = <double*>calloc(self.domains, sizeof(double))
        if (
            self._word == NULL or self._negated == NULL or self._flags == NULL or self._router_row == NULL
            or self._router == NULL or self._router_seen == NULL or self._router_bias == NULL
        ):
            raise MemoryError()
        memset(self._router_row, 0xFF, self._count * sizeof(int32_t))
        return 0

    cdef int _fill_words(self, dict shared, tuple own, Py_ssize_t keys) except -1:
        """Row ``id`` of _word: for each domain, its own weight of the key, else the shared."""
        cdef int domains = self.domains, d
        cdef Py_ssize_t index = 0
        cdef PyObject* value
        for key in self._ids:
            if index == keys:
                break
            for d in range(domains):
                value = PyDict_GetItem(<dict>own[d], key)
                if value == NULL:
                    value = PyDict_GetItem(shared, key)
                self._word[index * domains + d] = <double>(<object>value) if value != NULL else 0.0
            index += 1
        return 0

    cdef int _fill_bigrams(self, dict shared, tuple own) except -1:
        cdef dict rows = {}
        for key in shared:
            if len(key) == 2:
                rows[key] = len(rows)
        for overrides in own:
            for key in overrides:
                if len(key) == 2 and key not in rows:
                    rows[key] = len(rows)
        cdef int domains = self.domains, d
        cdef Py_ssize_t row
        cdef PyObject* value
        self._char = <double*>calloc(len(rows) * domains + 1, sizeof(double))
        if self._char == NULL:
            raise MemoryError()
        _table_init(&self._chars, len(rows))
        cdef str key_text
        for key_text, row in rows.items():
            _table_put(&self._chars, (<uint64_t>ord(key_text[0]) << 32) | <uint64_t>ord(key_text[1]), row)
            for d in range(domains):
                value = PyDict_GetItem(<dict>own[d], key_text)
                if value == NULL:
                    value = PyDict_GetItem(shared, key_text)
                self._char[row * domains + d] = <double>(<object>value) if value != NULL else 0.0
        return 0

    cdef int _fill_router(self, dict router_weights, tuple router_bias) except -1:
        cdef int domains = self.domains, d
        cdef Py_ssize_t row = 0
        self._router_ok = len(router_bias) == domains
        for d in range(min(domains, len(router_bias))):
            self._router_bias[d] = router_bias[d]
        for word, weights in router_weights.items():
            if len(weights) != domains:
                raise ValueError(f"router weights of {word!r}: {len(weights)} values for {domains} domains")
            self._router_row[<Py_ssize_t>self._ids[word]] = <int32_t>row
            for d in range(domains):
                self._router[row * domains + d] = weights[d]
            row += 1
        return 0

    def __dealloc__(self):
        free(self._word)
        free(self._negated)
        free(self._flags)
        free(self._router_row)
        free(self._router)
        free(self._router_seen)
        free(self._router_bias)
        free(self._char)
        _table_free(&self._pairs)
        _table_free(&self._chars)

    cdef inline int32_t _id(self, object token):
        cdef PyObject* found = PyDict_GetItem(self._ids, token)
        return <int32_t>(<object>found) if found != NULL else -1

    cdef inline double _pair(self, int32_t previous, int32_t word, int d) noexcept:
        if previous < 0 or word < 0:
            return 0.0
        cdef int32_t key = _table_get(&self._pairs, (<uint64_t>previous << 32) | <uint64_t>word)
        return self._word[key * self.domains + d] if key >= 0 else 0.0

    cdef double _log_odds(self, const int32_t* ids, Py_ssize_t count, str text, int d) noexcept:
        """The reference's clause_log_odds, summed in the same order."""
        cdef int domains = self.domains
        cdef double total = 0.0, characters = 0.0
        cdef bint negated = False
        cdef int32_t previous = self._start, word, row
        cdef Py_ssize_t i
        for i in range(count):
            word = ids[i]
            if word >= 0 and self._flags[word] & NEGATOR:
                negated = True
                total += self._word[word * domains + d]
            elif word >= 0:
                total += (
                    self._negated[word * domains + d] if negated else self._word[word * domains + d]
                ) + self._pair(previous, word, d)
            previous = word  # a word without an id is in no feature: it adds 0
        total += self._pair(previous, self._end, d)
        cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
        cdef int kind = PyUnicode_KIND(text)
        cdef void* data = PyUnicode_DATA(text)
        cdef uint64_t left, right
        if n > 1:
            right = PyUnicode_READ(kind, data, 0)
            for i in range(1, n):
                left, right = right, PyUnicode_READ(kind, data, i)
                row = _table_get(&self._chars, (left << 32) | right)
                characters += self._char[row * domains + d] if row >= 0 else 0.0
        return total + characters

    cdef int _domain(self, const int32_t* ids, Py_ssize_t count) noexcept:
        """Argmax of the router's scores over the distinct words (the first on a tie)."""
        cdef int domains = self.domains, d, best = 0
        if domains == 1:
            return 0
        cdef double totals[16]
        cdef double* scores = &totals[0]
        if domains > 16:
            scores = <double*>calloc(domains, sizeof(double))
            if scores == NULL:
                return 0
        cdef Py_ssize_t i
        cdef int32_t row
        for d in range(domains):
            scores[d] = 0.0
        for i in range(count):
            if ids[i] >= 0:
                row = self._router_row[ids[i]]
                if row >= 0 and not self._router_seen[row]:
                    self._router_seen[row] = 1
                    for d in range(domains):
                        scores[d] += self._router[row * domains + d]
        for i in range(count):
            if ids[i] >= 0 and self._router_row[ids[i]] >= 0:
                self._router_seen[self._router_row[ids[i]]] = 0
        for d in range(domains):
            scores[d] += self._router_bias[d]
            if scores[d] > scores[best]:
                best = d
        if domains > 16:
            free(scores)
        return best

    cdef int _check_domain(self, int domain) except -1:
        if domain < 0:
            domain += self.domains
        if not 0 <= domain < self.domains:
            raise IndexError("domain index out of range")
        return domain

    cdef int _check_router(self) except -1:
        if self.domains > 1 and not self._router_ok:
            raise ValueError("the model has not one router bias per domain")
        return 0

    cdef int _lookup(self, tokens, _Ints* ids) except -1:
        """Append the id of each token to ``ids`` (-1: a word in no feature)."""
        for token in _as_list(tokens):
            _push(ids, self._id(token))
        return 0

    def domain_of(self, words):
        """``LinearSentimentModel.domain_of``."""
        self._check_router()
        cdef _Ints ids = _empty()
        try:
            self._lookup(words, &ids)
            return self._domain(ids.data, ids.size)
        finally:
            free(ids.data)

    def clause_log_odds(self, clause, int domain):
        """``LinearSentimentModel.clause_log_odds``."""
        d = self._check_domain(domain)
        cdef _Ints ids = _empty()
        try:
            self._lookup(clause[3], &ids)
            return self._log_odds(ids.data, ids.size, clause[0], d)
        finally:
            free(ids.data)

    def opinion_words(self, tokens):
        """``LinearSentimentModel.opinion_words``."""
        cdef list words = []
        cdef str negator = ""
        cdef int32_t index
        cdef uint8_t flags
        for token in _as_list(tokens):
            index = self._id(token)
            flags = self._flags[index] if index >= 0 else 0
            if flags & NEGATOR:
                negator = token
                continue
            if flags & (OPINION_NEGATED if negator else OPINION):
                word = negator + token if negator else token
                if word not in words:
                    words.append(word)
        return words

    def read(self, str text, tokens):
        """Split ``text`` segmented as ``tokens`` into clauses, pick the domain from all the
        clauses' words and score each clause: ``(clauses, domain, log_odds)``, as
        ``split_clauses``, ``domain_of`` and ``clause_log_odds`` give them."""
        cdef _Buffer ids
        ids.words = _empty()
        ids.starts = _empty()
        cdef list clauses, evidence
        cdef int domain
        cdef Py_ssize_t index, start, stop
        try:
            clauses = self._splitter._split(text, _as_list(tokens), self, &ids)
            if not clauses:
                return clauses, 0, []
            self._check_router()
            domain = self._domain(ids.words.data, ids.words.size)
            evidence = []
            for index in range(ids.starts.size):
                start = ids.starts.data[index]
                stop = ids.starts.data[index + 1] if index + 1 < ids.starts.size else ids.words.size
                evidence.append(self._log_odds(ids.words.data + start, stop - start, clauses[index][0], domain))
            return clauses, domain, evidence
        finally:
            free(ids.words.data)
            free(ids.starts.data)


cdef Py_ssize_t _intern(dict ids, str text) except -1:
    cdef PyObject* found = PyDict_GetItem(ids, text)
    if found != NULL:
        return <Py_ssize_t>(<object>found)
    cdef Py_ssize_t index = len(ids)
    ids[text] = index
    return index
