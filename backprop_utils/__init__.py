"""backprop_utils: the NumPy module behind *Backprop, Derived*.

The names below are the stable public API that the chapters, the tests and outside checks use.
Arrays are NumPy arrays with ``N`` samples, ``C`` classes and ``D`` features. Float32 input gives
float32 output; any other input is computed in float64. Bad input raises ``ValueError`` or
``TypeError`` with a message that names the argument.

Submodules: ``softmax``, ``batchnorm``, ``layernorm``, ``layers``, ``gradcheck``, ``symbolic``,
``symbolic_bn``, ``engine`` (the scalar ``Value`` recorder: gates, topological order, backward),
``layout``, ``draw`` and ``graphs`` (laying out, drawing and building the book's computation
graphs), ``surfaces``, ``data``, ``network``, ``tables``, ``display`` (a function's own source,
highlighted on the page), ``experiments`` (the chapters' experiments over seeds) and ``drafts``
(chapter 7: first drafts wrong on purpose, and a plain vectorized reference).

``check`` checks the reader's own implementation (``from backprop_utils import check``, then
``check.softmax_loss(my_softmax_loss)``) and names known mistakes, which ``mistakes`` catalogues
as wrong variants; ``battery`` runs the cases and writes the report.
"""

from backprop_utils.batchnorm import (
    BatchNorm,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
)
from backprop_utils.gradcheck import (
    grad_check_sparse,
    numerical_gradient,
    numerical_gradient_array,
    rel_error,
)
from backprop_utils.layernorm import layernorm_backward, layernorm_forward
from backprop_utils.layers import affine_backward, affine_forward, relu_backward, relu_forward
from backprop_utils.softmax import (
    log_softmax,
    softmax,
    softmax_loss,
    softmax_loss_naive,
    softmax_loss_staged,
)

__all__ = [
    "BatchNorm",
    "affine_backward",
    "affine_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "batchnorm_forward",
    "grad_check_sparse",
    "layernorm_backward",
    "layernorm_forward",
    "log_softmax",
    "numerical_gradient",
    "numerical_gradient_array",
    "rel_error",
    "relu_backward",
    "relu_forward",
    "softmax",
    "softmax_loss",
    "softmax_loss_naive",
    "softmax_loss_staged",
]
