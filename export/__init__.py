"""Deployment (``i2i.export``): ONNX export and verification, inference engines (PyTorch and
onnxruntime), tiling with blended overlaps, and the fast folder translation pipeline.

onnx and onnxruntime are imported lazily inside the modules that need them.
"""
