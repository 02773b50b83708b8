"""The sentence-embedding model behind /ask: WordLlama's 256-dimension static embeddings, on the CPU.

The weights (16 MB) and the tokenizer ship inside the `wordllama` wheel, so nothing is downloaded at
run time. Its loader looks for the tokenizer in `wordllama/tokenizer/` (singular), misses it and would
fetch it from Hugging Face; pointing `cache_dir` at the package itself makes it find the packaged
`tokenizers/` folder, and `disable_download=True` turns a missing file into an error instead of a download.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MODEL_ID = "wordllama-0.4.0.post1:l2_supercat:256"
DIM = 256
_WORD_CACHE_MAX = 50_000


class Embedder:
    """Unit-length float32 vectors for texts and single words; dot products are cosine similarities."""

    name = MODEL_ID
    dim = DIM

    def __init__(self, model: object) -> None:
        self._model = model
        self._words: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.embed(list(texts), norm=False)  # type: ignore[attr-defined]
        vectors = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        # An empty text pools to a zero vector: leave it at zero (similar to nothing) instead of NaN.
        normed: np.ndarray = vectors / np.maximum(norms, 1e-9)
        return normed

    def words(self, words: Sequence[str]) -> np.ndarray:
        """Vectors for single words, cached: the same few thousand words recur in every question."""
        todo = [w for w in dict.fromkeys(words) if w not in self._words]
        if todo:
            if len(self._words) + len(todo) > _WORD_CACHE_MAX:
                self._words.clear()
            for word, vector in zip(todo, self.embed(todo), strict=True):
                self._words[word] = vector
        if not words:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._words[w] for w in words])


def load_embedder() -> Embedder:
    """Load the packaged model, never the network; about 0.2 s and 70 MB of memory."""
    started = time.perf_counter()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    import wordllama  # noqa: PLC0415 - imported on demand: the CLI's other commands need no model
    from wordllama import WordLlama  # noqa: PLC0415

    # wordllama calls logging.basicConfig() when imported; put the process's logging back as it was.
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    logging.getLogger("wordllama").setLevel(logging.WARNING)

    package = Path(wordllama.__file__).parent
    model = WordLlama.load(config="l2_supercat", dim=DIM, cache_dir=package, disable_download=True)
    log.info("loaded %s in %.2f s", MODEL_ID, time.perf_counter() - started)
    return Embedder(model)


@functools.cache
def shared_embedder() -> Embedder:
    """One model per process: it is read-only, and tests and the demo start many bots in one process."""
    return load_embedder()
