"""Declares padding_limit="below_kernel" but, past the limit, returns values one above the
reference's instead of raising: a declared limit allows a refusal, not a wrong value."""

from limited import limited

DECLARATIONS = {"padding_limit": "below_kernel"}

max_pool = limited("max_pool", past=lambda y: y + 1)
avg_pool = limited("avg_pool", past=lambda y: y + 1)
