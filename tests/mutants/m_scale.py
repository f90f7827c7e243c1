"""Size-threshold bugs: a vectorised kernel's channel tail and a tiled kernel's tile edge.

Both bugs are only reachable past the toy sizes of the ordinary property draws (at most
3 channels, sides of at most 7): the scale tier of the property tests
(``test_scale_*``, ``strategies.scale_configs``) is what reaches them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mutants.base import Mutant, geometry, spatial_shape

CHUNK = 16  # channels per vector chunk of the channel loop
TILE = 64  # input columns per spatial tile
SCALE_OPS = ("max_pool", "avg_pool")


class _ScaleMutant(Mutant):
    def wrong(self, op: str, fn: Any, x: np.ndarray, kw: dict[str, Any]) -> np.ndarray:
        raise NotImplementedError

    def __getattr__(self, name: str) -> Any:
        fn = super().__getattr__(name)
        if name not in SCALE_OPS:
            return fn

        def wrapped(x: np.ndarray, **kw: Any) -> Any:
            return self.wrong(name, fn, x, kw)

        return wrapped


class ChannelTailChunkOffset(_ScaleMutant):
    """channels_last max and average pooling loop over channels in chunks of 16; when C
    is above 16 and not a multiple of it, the tail chunk is written from the wrong
    offset: its channels get the results of the first channels of the chunk before it.

    Models the channel-tail bug of a pooling kernel that works on whole channel tiles:
    ttnn.max_pool2d returned wrong values for channels above a tile and not a multiple
    of it (https://github.com/tenstorrent/tt-metal/issues/15731; the non-tile offset of
    the last tile, https://github.com/tenstorrent/tt-metal/issues/27738)."""

    CLAUSES = ("POOL-MAX-1", "POOL-AVG-1", "POOL-LAYOUT-1")

    def wrong(self, op: str, fn: Any, x: np.ndarray, kw: dict[str, Any]) -> np.ndarray:
        y = fn(x, **kw)
        c = x.shape[-1] if x.ndim else 0
        if kw.get("layout") != "channels_last" or c <= CHUNK or c % CHUNK == 0:
            return y
        tail = c - c % CHUNK
        y = y.copy()
        y[..., tail:] = y[..., tail - CHUNK : tail - CHUNK + c % CHUNK]
        return y


class TileEdgeTapsDropped(_ScaleMutant):
    """Max and average pooling tile the last spatial axis by 64 input columns; a window
    that crosses from one tile into the next reads the next tile's columns as padding
    (zero for the average, which keeps its divisor; nothing for the maximum). Inputs of
    at most 64 columns have one tile and are right.

    Models the halo of a spatially sharded pooling kernel, the overlap a window needs
    from the neighbouring shard, read wrongly
    (https://github.com/tenstorrent/tt-metal/pull/27333: "In Place Halo can give
    incorrect results")."""

    CLAUSES = ("POOL-MAX-1", "POOL-AVG-1", "POOL-GEOM-8")

    def wrong(self, op: str, fn: Any, x: np.ndarray, kw: dict[str, Any]) -> np.ndarray:
        y = fn(x, **kw)
        layout = kw.get("layout", "channels_first")
        if spatial_shape(x, layout)[-1] <= TILE:
            return y
        axis = geometry(x, kw).axes[-1]
        crossing = [
            o
            for o in range(axis.out)
            if o * axis.stride - axis.pad_begin
            < TILE
            <= o * axis.stride - axis.pad_begin + (axis.kernel - 1) * axis.dilation
        ]
        if not crossing:
            return y
        col = -1 if layout == "channels_first" else -2
        cut = np.array(x, copy=True)
        idx: list[Any] = [slice(None)] * cut.ndim
        idx[col] = slice(TILE, None)
        fill = (
            np.iinfo(x.dtype).min if x.dtype.kind in "iu" else (-np.inf if op == "max_pool" else 0)
        )
        cut[tuple(idx)] = fill
        wrong = fn(cut, **kw)
        y = y.copy()
        out_idx: list[Any] = [slice(None)] * y.ndim
        out_idx[col] = crossing
        y[tuple(out_idx)] = wrong[tuple(out_idx)]
        return y
