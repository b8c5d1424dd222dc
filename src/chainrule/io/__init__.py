"""Models in and out of chainrule: one small module per file format.

- ``files.py``: what every format shares (atomic writes, telling formats apart, optional imports)
- ``state.py``: what a file holds (a module, an optimizer, a checkpoint) as named arrays plus a header
- ``npz.py``, ``safetensors.py``: the two weight formats behind ``cr.save`` / ``cr.load``
- ``onnx.py`` (with ``onnx_ops.py``, the op table, and ``onnx_graph.py``, the graph being built):
  ``cr.onnx.export``
- ``dlpack.py``: ``cr.from_dlpack``, zero-copy arrays from PyTorch, NumPy and any DLPack producer
"""
