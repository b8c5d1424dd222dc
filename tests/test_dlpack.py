"""DLPack and the array protocol: nodes share memory with PyTorch and NumPy both ways, without copies."""

import numpy as np
import pytest
import torch

import chainrule as cr


def test_from_a_pytorch_tensor_shares_memory():
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    node = cr.from_dlpack(t)
    assert isinstance(node, cr.Constant) and node.value.dtype == np.float32 and node.shape == (2, 3)
    assert node.value.ctypes.data == t.data_ptr()  # the same bytes
    t[0, 0] = 42.0  # a write on the PyTorch side shows in the node
    assert node.value[0, 0] == 42.0
    node.value[1, 2] = -1.0  # and the other way round
    assert t[1, 2].item() == -1.0


def test_from_a_numpy_array_and_as_a_trainable_variable():
    a = np.linspace(-1, 1, 5)
    node = cr.from_dlpack(a, requires_grad=True, name="a")
    assert isinstance(node, cr.Variable) and node.name == "a" and np.shares_memory(node.value, a)
    cr.sum(node * node).backward()
    np.testing.assert_allclose(node.grad, 2 * a)
    labels = cr.from_dlpack(torch.tensor([1, 0, 2]))
    assert labels.value.dtype == np.int64  # integers stay integers in a Constant


def test_pytorch_and_numpy_read_a_node_without_copying():
    x = cr.Variable(np.arange(4.0, dtype=np.float32))
    y = x * 2
    t = torch.from_dlpack(y)
    assert t.data_ptr() == y.value.ctypes.data and t.dtype == torch.float32
    y.value[0] = 7.0
    assert t[0].item() == 7.0
    assert np.shares_memory(np.from_dlpack(y), y.value)
    assert y.__dlpack_device__() == (1, 0)  # kDLCPU, device 0


def test_np_asarray_is_the_value_and_np_array_a_copy():
    node = cr.Variable(np.zeros(3))
    assert np.asarray(node) is node.value
    copy = np.array(node)
    copy[0] = 5.0
    assert node.value[0] == 0.0 and not np.shares_memory(copy, node.value)
    assert np.asarray(node, dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError, match="without a copy"):
        np.array(node, dtype=np.float32, copy=False)


def test_something_without_dlpack_is_a_clear_type_error():
    with pytest.raises(TypeError, match="cr.from_dlpack needs a CPU array that supports DLPack"):
        cr.from_dlpack([1.0, 2.0])
    with pytest.raises(TypeError, match="use tensor.detach()"):  # PyTorch's own advice, passed on
        cr.from_dlpack(torch.ones(2, requires_grad=True))
