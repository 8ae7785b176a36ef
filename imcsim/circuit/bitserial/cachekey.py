"""Numba's on-disk cache keyed on every source a kernel is built from, not only the file defining it.

Numba stamps a cached kernel with the content hash of the file that holds the ``@njit`` function
(``kernels.py``). The LLVM blocks those kernels inline come from ``codegen.py``; without more, an edit
there would load the old machine code until the cache was removed by hand. :func:`key_on` adds the
hash of the extra sources to the stamp of each kernel's cache index, so such an edit makes the index
stale and the kernels compile again; with no edit, the cache is used as before.

Numba has no public hook for this: the stamp is ``_source_stamp`` of the index
(``numba.core.caching.IndexDataCacheFile``, the same since Numba 0.49). Should a later Numba move it,
:func:`key_on` changes nothing and returns False (tests/test_bitserial_cache.py then fails), never
breaking an import.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def key_on(dispatchers: Iterable[Any], *sources: Path) -> bool:
    """Add the content hash of ``sources`` to the cache stamp of each ``@njit(cache=True)`` dispatcher;
    call it before the first call (compilation or cache load). True when every stamp was extended."""
    digest = hashlib.sha256(b"\0".join(Path(s).read_bytes() for s in sources)).hexdigest()
    done = True
    for dispatcher in dispatchers:
        index = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
        if index is None or not hasattr(index, "_source_stamp"):
            done = False
            continue
        index._source_stamp = (index._source_stamp, digest)
    return done


def cached(dispatcher: Any) -> bool:
    """Whether the on-disk cache holds a current (not stale) entry for ``dispatcher``."""
    index = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    try:
        return bool(index._load_index())  # {} when missing, stale or from another Numba version
    except (AttributeError, OSError, EOFError, ValueError):
        return False
