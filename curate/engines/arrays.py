"""Arrow arrays from Python and numpy values, and back to numpy, without waking pyarrow's pandas support.

pyarrow converts Python values (``pa.array``, ``pa.scalar``, a Python number passed to a compute function) and
exports arrays to numpy (``to_numpy``) through code that imports pandas on first use, to recognise pandas'
own values: about 50 MB of memory and 0.15 s of CPU in every process that gets there, which for the local
engine means the driver and each worker process. The tables that travel between the engines' processes
(`curate.engines`) are built and read with these helpers instead, through polars, which hands Arrow memory
over as it is; tests/test_contamination.py checks that a contamination scan never imports pandas.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
import pyarrow as pa

from curate.files import clean_text

_POLARS = {pa.int32(): pl.Int32, pa.int64(): pl.Int64, pa.bool_(): pl.Boolean, pa.string(): pl.String}


def from_values(values: Sequence[object] | np.ndarray, type: pa.DataType) -> pa.Array:
    """``values`` (a list or a numpy array) as an Arrow array of ``type`` (int32, int64, bool or string)."""
    series = pl.Series(values, dtype=_POLARS[type])
    return series.to_arrow(compat_level=pl.CompatLevel.oldest()).cast(type)


def utf8(values: Sequence[str | None]) -> pa.Array:
    """Texts as an Arrow string array, each made valid UTF-8 with `curate.files.clean_text`.

    The conversion refuses a lone surrogate (a JSON ``\\udcff`` escape, a file name that is not UTF-8), so
    valid text (nearly all of it) goes in one pass and only a batch holding a bad string is cleaned string by
    string: searching every text for surrogates first cost the reading process 0.2 s per 200 MB of text.
    """
    try:
        return from_values(values, pa.string())
    except UnicodeEncodeError:
        return from_values([None if v is None else clean_text(v) for v in values], pa.string())


def to_numpy(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A column without nulls (a source index, a mask) as a numpy array."""
    return pl.Series(column).to_numpy()
