"""Device and precision choice, with the machine's accelerators and CPU flags faked: auto takes
cuda, then mps, then cpu; a device the machine lacks is refused naming the key; bf16 autocast
runs where the device computes bf16 natively, fp32 elsewhere."""

import contextlib
import os
from types import SimpleNamespace

import pytest
import torch

from mnistgan.core import device
from mnistgan.core.errors import UserError

X86 = {"architecture": "x86_64", "avx2": True, "avx512_f": True}
ARM = {"architecture": "aarch64", "neon": True, "sve": True, "sve_max_length": 256}


@pytest.fixture(autouse=True)
def fresh_bf16_answers():
    device.native_bf16.cache_clear()
    yield
    device.native_bf16.cache_clear()


def machine(monkeypatch, cuda: bool, mps: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_auto_takes_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    machine(monkeypatch, cuda, mps)
    assert device.resolve("auto", "train.device") == torch.device(expected)
    assert device.resolve("cpu", "train.device") == torch.device("cpu")


@pytest.mark.parametrize(
    ("name", "key", "what"),
    [("cuda", "train.device", "CUDA GPU"), ("mps", "evaluator.device", "Apple GPU (MPS)")],
)
def test_a_device_the_machine_lacks_is_refused_naming_the_key(monkeypatch, name, key, what):
    machine(monkeypatch, False, False)
    with pytest.raises(UserError) as e:
        device.resolve(name, key)
    assert str(e.value) == f"{key}: got '{name}', but this machine has no {what}; use auto"


@pytest.mark.parametrize(
    ("flags", "native"),
    [
        (X86 | {"avx512_bf16": True, "amx_bf16": False}, True),  # Cooper Lake, Zen 4
        (X86 | {"avx512_bf16": False, "amx_bf16": True, "amx_tile": True}, True),  # AMX
        (X86 | {"avx512_bf16": False, "amx_bf16": False}, False),  # AVX-512 without bf16
        (X86, False),  # AVX2 only
        (ARM | {"bf16": True}, True),  # Graviton 3, Apple M2
        (ARM | {"bf16": False, "sve_bf16": True}, True),
        (ARM | {"bf16": False, "sve_bf16": False}, False),  # Graviton 2, Apple M1
        ({}, False),  # torch without get_capabilities
    ],
)
def test_cpu_bf16_follows_the_capability_flags(monkeypatch, flags, native):
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: flags)
    assert device.native_bf16(torch.device("cpu")) is native
    cast = device.autocast("auto", torch.device("cpu"))
    with cast:
        product = torch.ones(2, 2) @ torch.ones(2, 2)
    assert product.dtype == (torch.bfloat16 if native else torch.float32)


def test_cpu_without_capabilities_means_fp32(monkeypatch):
    monkeypatch.delattr(torch.cpu, "get_capabilities")  # torch before it existed
    assert not device.native_bf16(torch.device("cpu"))
    device.native_bf16.cache_clear()

    def broken():
        raise RuntimeError("cpuinfo failed")

    monkeypatch.setattr(torch.cpu, "get_capabilities", broken, raising=False)
    assert not device.native_bf16(torch.device("cpu"))


def gpu(monkeypatch, major: int) -> None:
    """A CUDA GPU of compute capability `major`.x, as torch.cuda sees it, on any machine."""
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: SimpleNamespace(major=major))

    def emulated(device):  # what torch asks when emulation counts: it must not here
        raise AssertionError("asked whether bf16 can be emulated")

    monkeypatch.setattr(torch.cuda, "_check_bf16_tensor_supported", emulated, raising=False)


@pytest.mark.parametrize(("major", "native"), [(8, True), (9, True), (7, False), (6, False)])
def test_cuda_bf16_is_native_from_ampere_on(monkeypatch, major, native):
    gpu(monkeypatch, major)
    assert device.native_bf16(torch.device("cuda")) is native
    assert (device.precision("auto", torch.device("cuda"))().__class__ is torch.autocast) is native


def test_no_cuda_computes_no_bf16(monkeypatch):
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device.native_bf16(torch.device("cuda")) is False


def test_mps_trains_in_fp32_and_refuses_bf16():
    mps = torch.device("mps")
    assert not device.native_bf16(mps)
    for amp in ("auto", None):  # null contexts: nothing touches the (absent) GPU
        assert isinstance(device.autocast(amp, mps), contextlib.nullcontext)
    with pytest.raises(UserError, match=r"^train\.amp: got 'bf16', but this mps has no native"):
        device.autocast("bf16", mps)


def test_bf16_is_refused_where_it_would_be_emulated(monkeypatch):
    monkeypatch.setattr(device, "native_bf16", lambda d: False)
    with pytest.raises(UserError, match=r"^train\.amp: got 'bf16', but this cpu has no native"):
        device.autocast("bf16", torch.device("cpu"))
    with device.autocast("auto", torch.device("cpu")):  # auto falls back to fp32
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


@pytest.mark.parametrize("amp", ["bf16", "auto"])
def test_bf16_autocast_runs_where_bf16_is_native(monkeypatch, amp):
    monkeypatch.setattr(device, "native_bf16", lambda d: True)
    with device.autocast(amp, torch.device("cpu")):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with device.autocast(None, torch.device("cpu")):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_the_cpu_draws_the_random_numbers_of_an_apple_gpu():
    for name, draws_on in (("cpu", "cpu"), ("cuda", "cuda"), ("mps", "cpu")):
        assert device.generator_device(torch.device(name)) == torch.device(draws_on)


def test_deterministic_settings_are_for_cuda_alone(monkeypatch):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", "")  # so that teardown restores it
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG")
    device.make_deterministic(torch.device("cpu"))
    assert not torch.are_deterministic_algorithms_enabled()
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    cudnn = torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic
    try:
        device.make_deterministic(torch.device("cuda"))  # needs no GPU: settings only
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    finally:
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = cudnn


def test_forward_in_batches_feeds_every_row_once_in_order_in_eval_mode():
    net = torch.nn.Linear(1, 1).train()
    seen = []

    def forward(x, y):
        seen.append((x.tolist(), y, net.training, torch.is_grad_enabled()))
        return x * 10, x[:, :1]

    x = torch.arange(5.0).view(5, 1)
    tens, firsts = device.forward_in_batches(net, forward, x, None, batch=2)
    assert seen == [
        ([[0.0], [1.0]], None, False, False),
        ([[2.0], [3.0]], None, False, False),
        ([[4.0]], None, False, False),
    ]
    assert tens.flatten().tolist() == [0.0, 10.0, 20.0, 30.0, 40.0]
    assert torch.equal(firsts, x)
    labels = torch.tensor([7, 8, 9])
    ys = device.forward_in_batches(net, lambda a, b: b, x[:3], labels, batch=2)
    assert ys.tolist() == [7, 8, 9]


def test_place_net_makes_conv_nets_channels_last_and_leaves_others():
    conv = device.place_net(torch.nn.Conv2d(2, 4, 3), torch.device("cpu"))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not conv.weight.is_contiguous()
    linear = device.place_net(torch.nn.Linear(3, 4), torch.device("cpu"))
    assert linear.weight.is_contiguous()
    for net in (torch.nn.Conv2d(2, 4, 3), torch.nn.Linear(3, 4)):  # moved, in either case
        assert device.place_net(net, torch.device("meta")).weight.device.type == "meta"
