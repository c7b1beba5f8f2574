"""torch -> ONNX. The only modules of mlpack that import torch."""
