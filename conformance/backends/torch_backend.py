"""The ``torch`` backend: torch.nn.functional and autograd behind the poolconf backend API.

``poolconf check torch`` runs on the CPU; ``poolconf check torch:cuda`` calls
``configure(device="cuda")`` first. Arrays go in and out as NumPy arrays of the
input dtype (indices int64). ``channels_last`` inputs are moved to dim 1 with
``movedim`` (a view, so 4-D inputs reach torch in ``torch.channels_last``
memory format and exercise its channels-last kernels).

Where torch cannot express the spec's semantics the adapter raises
``poolconf.Unsupported`` with the torch behaviour and the clause in the reason;
it never patches a torch result. Compositions of torch ops are used only where
they are provably equivalent to the spec:

* max pooling (values only) with asymmetric padding or padding above ``k//2``:
  ``F.pad`` with ``-inf`` (integer dtypes: the dtype's minimum), when every
  window holds an input element. A max over a non-empty set is unchanged by
  adding the smallest value, NaN and signed zeros included. Indices and
  gradients are not (a padded ``-inf`` can win a tie), so those are Unsupported.
* average pooling with ``count_include_pad=True`` or ``divisor_override``, and
  Lp pooling, with padding torch's pools reject: ``F.pad`` with zeros. Zeros add
  exactly nothing to a sum and the divisor is then the padded extent, which is
  the spec's [POOL-AVG-3]. Only when torch's ceil-mode window count on the padded
  input is the spec's (Lp pooling passes its ceil mode on to torch).
* Lp pooling as ``F.lp_pool*d(abs(x))``: torch raises x (not |x|) to the p-th
  power; the absolute value comes first so odd ``p`` follows [POOL-LP-1].
* convolution with asymmetric padding: ``F.pad`` with zeros (torch's own padding
  also multiplies zeros by the weights), finite weights only.
* 1-D integer max pooling and 1-D average pooling with ``divisor_override`` go
  through torch's 2-D kernel on an unsqueezed input (torch's 1-D entry points
  lack those); max unpooling with asymmetric padding passes the spec's output
  size explicitly (torch's padding only sets the default size).

For arguments the spec rejects, the adapter does not validate: it forwards what
it can to torch and lets torch's own checks raise (or not); values it translates
(padding forms, ``layout``, the padding list of ``F.pad``) it validates with the
reference's rules. Where torch accepts something the spec rejects (integer average
pooling, non-integer ``p``, negative padding in ``F.pad``, a grad_output of another
dtype, ``output_size=0``) or computes a valid input otherwise than the spec, the
result goes to the check as it is: those are the known failures of
``torch_xfail.txt``, each with its reason, not skips.
"""

from __future__ import annotations

from poolconf.conformance.backends._torch_adaptive import (
    adaptive_avg_pool,
    adaptive_avg_pool_grad,
    adaptive_max_pool,
    adaptive_max_pool_grad,
    global_avg_pool,
    global_lp_pool,
    global_max_pool,
)
from poolconf.conformance.backends._torch_common import FLOATS, configure
from poolconf.conformance.backends._torch_pool import (
    avg_pool,
    avg_pool_grad,
    lp_pool,
    lp_pool_grad,
    max_pool,
    max_pool_grad,
    max_pool_with_indices,
)
from poolconf.conformance.backends._torch_unpool_conv import conv, conv_grad, max_unpool, zero_pad

# Verified on torch 2.13.0 CPU: -0.0/+0.0 and equal values tie to the first
# element in window order; of several NaNs the LAST one's index is reported
# (and receives the gradient); windows entirely in padding give -inf, as the
# reference does (their indices are garbage, so those calls are Unsupported);
# the Lp gradient at a zero norm is 0 as in the reference, but over a window with
# an infinite input it is finite where the reference gives NaN, hence "other".
DECLARATIONS = {
    "tie_policy": "first",
    "empty_window": "reference",
    "nan_index": "other",
    "lp_zero_grad": "other",
    "accumulator": "float32",  # sums, products, Lp powers: float32 or float64 [POOL-DTYPE-6]
    # torch's pools reject symmetric padding above half the effective kernel ("pad should
    # be at most half of effective kernel size"); where F.pad gives an equivalent call the
    # adapter computes it instead [POOL-PARAM-7]
    "padding_limit": "half_kernel",
}
# torch behaviours the adapter must not hide, applied by `poolconf check torch`
XFAIL_FILE = "torch_xfail.txt"

__all__ = [
    "DECLARATIONS",
    "FLOATS",
    "XFAIL_FILE",
    "adaptive_avg_pool",
    "adaptive_avg_pool_grad",
    "adaptive_max_pool",
    "adaptive_max_pool_grad",
    "avg_pool",
    "avg_pool_grad",
    "configure",
    "conv",
    "conv_grad",
    "global_avg_pool",
    "global_lp_pool",
    "global_max_pool",
    "lp_pool",
    "lp_pool_grad",
    "max_pool",
    "max_pool_grad",
    "max_pool_with_indices",
    "max_unpool",
    "zero_pad",
]
