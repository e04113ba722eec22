"""Reference implementations for the course on the techniques that make neural networks train.

The top level is what students read (book-compatible API, float64 by default, float32 kept as float32),
one idea per module:

- ``lib.optimizers``    SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam, AdamW and learning-rate schedules
- ``lib.layers``        Affine, ReLU, Sigmoid, Tanh, BatchNormalization, LayerNormalization, Dropout,
                        SoftmaxWithLoss, softmax and log_softmax
- ``lib.networks``      MultiLayerNet (the book's MultiLayerNetExtend, one class)
- ``lib.initializers``  fans and the Xavier and He scales
- ``lib.training``      the one training loop
- ``lib.data``          offline data sets (digits, 2-D toys), the checksummed MNIST loader, count_classes
- ``lib.gradcheck``     centered numerical gradients and the relative error
- ``lib.functions``     2-D test functions for optimizer paths, with gradients and Hessians
- ``lib.second_order``  Newton's method and L-BFGS
- ``lib.quadratic``     the exact theory of gradient descent and momentum on a quadratic
- ``lib.plots``         the course's figure style and the figures chapters share

Beside them: ``lib.chapters.chNN_topic`` (each chapter's experiments and figures), ``lib.checks``
(the exercise checks called from the notebooks' check cells) and ``lib.course`` (tooling: notebook
executor, HTML edition, exercise generator and grader).
"""

__version__ = "0.1.0"
