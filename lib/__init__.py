"""Reference implementations for the course on the techniques that make neural networks train.

Modules (book-compatible API, float64 by default, float32 kept as float32):

- ``lib.optimizers``  SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam, AdamW and learning-rate schedules
- ``lib.layers``      Affine, ReLU, Sigmoid, Tanh, BatchNormalization, LayerNormalization, Dropout, SoftmaxWithLoss
- ``lib.networks``    MultiLayerNet (the book's MultiLayerNetExtend, one class)
- ``lib.training``    the one training loop
- ``lib.data``        offline data sets (digits, 2-D toys) and the checksummed MNIST loader
- ``lib.functions``   test functions for optimizer paths, with gradients
- ``lib.gradcheck``   centered numerical gradients and the relative error
- ``lib.plots``       figures the chapters share
- ``lib.checks``      the exercise checks called from the notebooks' check cells
- ``lib.course.grading``     student-notebook generation and the instructor's grader
"""

__version__ = "0.1.0"
