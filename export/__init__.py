"""Deployment: batch translation of folders (and, later, ONNX export and onnxruntime engines).

onnx and onnxruntime are imported lazily inside the modules that need them.
"""
