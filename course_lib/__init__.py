"""Build a small language model step by step: the library behind the chapters.

Pick a backend with one import; both expose the same names::

    from course_lib import numpy as cl   # hand-written forward and backward
    from course_lib import torch as cl   # PyTorch autograd, any device

`import course_lib` itself stays light: it never imports torch.
"""

from course_lib.config import ModelConfig

__version__ = "0.2.0"
__all__ = ["ModelConfig", "__version__"]
