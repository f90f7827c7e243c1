"""Broken on purpose: max pooling pads with 0 instead of excluding padding [POOL-MAX-1]."""

from poolconf import reference as ref
from poolconf.reference import resolve_padding


def max_pool(
    x, *, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, layout="channels_first"
):
    rank = x.ndim - 2
    k = tuple(kernel_size)
    s = k if stride is None else tuple(stride)
    d = (dilation,) * rank if isinstance(dilation, int) else tuple(dilation)
    spatial = x.shape[2:] if layout == "channels_first" else x.shape[1:-1]
    pads = resolve_padding(padding, spatial, k, s, d)
    padded = ref.zero_pad(x, padding=pads, layout=layout)
    return ref.max_pool(
        padded, kernel_size=k, stride=s, padding=0, dilation=d, ceil_mode=ceil_mode, layout=layout
    )


avg_pool = ref.avg_pool
