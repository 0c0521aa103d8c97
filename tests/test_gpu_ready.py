"""The GPU paths, proven on a CPU: nets on the meta device or on a faked CUDA GPU
(FakeTensorMode: tensors with a device and a shape, no data) run the code a GPU would, and a
TorchDispatchMode records every op. Inputs follow their model to its device; a training step
never waits on the GPU (no scalar read, no copy to the host), computes nothing in float64
(Apple GPUs have none) and runs no op that PyTorch lists as nondeterministic on a GPU; what
leaves a device for a file or another process is on the CPU; a resume checkpoint from a GPU
says in one line why a CPU run trains afresh."""

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import SMALL, images
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.optim import optimizer
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from mnistgan.core import atomic, device
from mnistgan.core.pixels import to_unit
from mnistgan.evaluation import classifier, verdict
from mnistgan.gan import distributed, models, rejection, resume, sampling, training
from mnistgan.gan.sampling import digit_frequencies

aten = torch.ops.aten

# Ops that torch.use_deterministic_algorithms(True) refuses on a CUDA GPU, having no
# deterministic kernel (its docs' second list; NLLLoss is nll_loss2d, the one that alerts):
# the deterministic setting of mnistgan.core.device would only warn, and reruns would differ.
NONDETERMINISTIC = {
    "avg_pool3d_backward",
    "_adaptive_avg_pool2d_backward",
    "_adaptive_avg_pool3d_backward",
    "adaptive_max_pool2d_backward",
    "fractional_max_pool2d_backward",
    "fractional_max_pool3d_backward",
    "max_unpool2d",
    "max_unpool3d",
    "upsample_linear1d_backward",
    "upsample_bilinear2d_backward",
    "upsample_bicubic2d_backward",
    "upsample_trilinear3d_backward",
    "reflection_pad1d_backward",
    "reflection_pad2d_backward",
    "reflection_pad3d_backward",
    "nll_loss2d_forward",
    "_ctc_loss_backward",
    "_embedding_bag_backward",
    "_embedding_bag_dense_backward",
    "put_",
    "put",
    "histc",
    "bincount",
    "median.dim",  # the median with its index
    "grid_sampler_2d_backward",
    "scatter_reduce",
    "scatter_reduce_",
}
DATA_DEPENDENT = {aten.nonzero.default, aten.masked_select.default, aten._unique2.default}


def waits(func, args, kwargs) -> tuple[bool, torch.Tensor | None]:
    """Whether the op makes the host wait for a device, and the tensor it reads there."""
    if func is aten.copy_.default:  # copy_(dst, src)
        return args[0].device.type == "cpu" and args[1].device.type != "cpu", args[1]
    src = args[0] if args and isinstance(args[0], torch.Tensor) else None
    if src is None or src.device.type == "cpu":
        return False, src
    if func is aten._to_copy.default:
        return getattr(kwargs.get("device"), "type", None) == "cpu", src
    return func is aten._local_scalar_dense.default or func in DATA_DEPENDENT, src


class Recorder(TorchDispatchMode):
    """Records each op run under it: its name, the dtypes it touches, whether it makes the
    host wait for the device: a scalar read (.item(), float(), bool(), `if t`), a copy to the
    CPU (.cpu(), .tolist()) or an op whose output size depends on the data. Meta and fake
    tensors have no data to read: a read gets True or 0, a copy of a meta tensor zeros, so
    code runs on to its end."""

    def __init__(self):
        super().__init__()
        self.ops: list[tuple[str, set[torch.dtype], bool]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        sync, src = waits(func, args, kwargs)
        if sync and func is aten._local_scalar_dense.default:  # no data: meta or fake
            out = True if src.dtype is torch.bool else 0
        elif sync and src.device.type == "meta" and func is aten._to_copy.default:
            out = torch.zeros(src.shape, dtype=kwargs.get("dtype") or src.dtype)
        elif sync and src.device.type == "meta" and func is aten.copy_.default:
            out = args[0]
        else:
            out = func(*args, **kwargs)
        leaves = tree_leaves((args, kwargs, out))
        dtypes = {t.dtype for t in leaves if isinstance(t, torch.Tensor)}
        self.ops.append((func.__name__, dtypes, sync))
        return out

    @property
    def syncs(self) -> list[str]:
        return [name for name, _, sync in self.ops if sync]


def test_the_recorder_sees_each_kind_of_host_sync():
    t = torch.ones(3, device="meta")
    for wait in (lambda: t.sum().item(), lambda: t.tolist(), lambda: t.cpu(), lambda: bool(t[0])):
        with Recorder() as rec:
            wait()
        assert len(rec.syncs) == 1, rec.ops
    with Recorder() as rec:
        (t * 2).sum()
        torch.ones(3).sum().item()  # a CPU tensor: no device to wait for
    assert rec.syncs == []
    with FakeTensorMode(), Recorder() as rec:
        torch.ones(3, device="cuda").cpu()
    assert rec.syncs == ["_to_copy.default"]


# Model and training params for a step on the meta device: every kind of step
STEPS = {
    "supervised D, balance and digit terms, EMA": (SMALL.model, SMALL.train),
    "conditional, wgan-gp, 2 D steps": (
        replace(SMALL.model, conditional=True, d_norm="layer"),
        replace(SMALL.train, loss="wgan-gp", d_steps=2, ema=None),
    ),
    "mlp, hinge": (
        replace(SMALL.model, arch="mlp", supervised_d=False),
        replace(SMALL.train, loss="hinge"),
    ),
}


def meta_run(monkeypatch, model_params, train_params, n: int = 64) -> training.Run:
    """A training run set up on the meta device, its random numbers drawn on the CPU (as on
    an Apple GPU) and moved: the run a GPU would set up."""
    monkeypatch.setattr(device, "generator_device", lambda d: torch.device("cpu"))
    fused = optimizer._get_fused_kernels_supported_devices()  # fused Adam has a meta kernel
    monkeypatch.setattr(optimizer, "_get_fused_kernels_supported_devices", lambda: [*fused, "meta"])
    meta = torch.device("meta")
    nets = training.build_nets(model_params, train_params, meta)
    labels = torch.arange(n) % 10
    prior = digit_frequencies(labels).to(meta)
    steps = training.steps_per_epoch(n, train_params)
    config = training.step_config(train_params, prior)
    return training.Run(
        model_params, train_params, Path("unused"), distributed.ALONE, meta, slice(None), steps,
        nets, nets.g, nets.d, to_unit(images(n)).to(meta), labels.to(meta), config,
    )  # fmt: skip


@pytest.mark.parametrize("kind", STEPS)
def test_a_training_step_waits_on_nothing_and_computes_in_float32(monkeypatch, kind):
    run = meta_run(monkeypatch, *STEPS[kind])
    order = torch.randperm(64).to(run.device)
    with Recorder() as rec:
        stats = training.train_step(run, order, step=0, i=0)
    assert stats.device.type == "meta" and stats.shape == (4,)
    names = {name for name, _, _ in rec.ops}
    assert "convolution_backward.default" in names or kind.startswith("mlp")  # it saw it all
    assert rec.syncs == []
    assert [name for name, dtypes, _ in rec.ops if torch.float64 in dtypes] == []
    assert {
        n for n in names if n in NONDETERMINISTIC or n.split(".")[0] in NONDETERMINISTIC
    } == set()


def test_an_epoch_waits_only_for_its_log_lines(monkeypatch):
    """4 steps, a log line every 3: the host waits twice for the rows, once for the epoch's
    means, never inside a step."""
    run = meta_run(monkeypatch, SMALL.model, replace(SMALL.train, batch_size=16, log_every=3))
    in_step, waits = [], []
    step = training.train_step

    def watched(*args, **kwargs):
        in_step.append(len(rec.syncs))
        out = step(*args, **kwargs)
        waits.append(len(rec.syncs) - in_step[-1])
        return out

    monkeypatch.setattr(training, "train_step", watched)
    history = resume.History()
    with Recorder() as rec:
        training.train_epoch(run, 1, history, training.no_callback)
    assert waits == [0] * 4
    assert [row[0] for row in history.rows] == [3, 4]
    assert rec.syncs == ["_to_copy.default"] * 3  # mean_of's .tolist()


def test_sums_are_float32_on_an_apple_gpu_alone():
    assert device.sum_dtype(torch.device("mps")) == torch.float32
    assert device.sum_dtype(torch.device("cuda")) == torch.float64
    assert device.sum_dtype(torch.device("cpu")) == torch.float64


def test_the_classifier_waits_once_an_epoch(monkeypatch):
    """4 steps in each of 2 epochs: between the first and the last step the host waits once,
    for the first epoch's log line, not once a step."""
    x, y = images(64), torch.arange(64) % 10
    params = replace(SMALL.evaluator, epochs=2, batch_size=16)
    lines = []
    with Recorder() as rec:
        net = classifier.train_classifier(x, y, params, log=lines.append, device="meta")
    losses = [k for k, (name, _, _) in enumerate(rec.ops) if name == "nll_loss_forward.default"]
    assert len(losses) == 8 and len(lines) == 2
    between = [name for name, _, sync in rec.ops[losses[0] : losses[-1]] if sync]
    assert between == ["_local_scalar_dense.default"]
    assert next(net.parameters()).device.type == "cpu"


def fake_cuda(net: torch.nn.Module) -> torch.nn.Module:
    return net.to(torch.device("cuda"))


@pytest.mark.parametrize("supervised", [True, False])
def test_d_helpers_move_inputs_to_ds_device_and_return_on_the_cpu(supervised):
    """On a (faked) GPU, a CPU input would fail as it does on a real one: 'Expected all
    tensors to be on the same device'. Three batches, and the host waits only at the end."""
    model = replace(SMALL.model, conditional=True, supervised_d=supervised)
    _, d = models.build(model, 0)
    x, y = images(30), torch.arange(30) % 10
    with FakeTensorMode(allow_non_fake_inputs=True), Recorder() as rec:
        d = fake_cuda(d)
        group, score = rejection.sureness(d, x, y, batch=10)
        assert group.device.type == score.device.type == "cpu" and score.shape == (30,)
        waited = len(rec.syncs)
        assert waited == (2 if supervised else 1)  # the score, and the digit D reads
        scores = verdict.d_scores(d, x, y, batch=10)
        assert scores.device.type == "cpu" and scores.shape == (30,)
        assert len(rec.syncs) == waited + 1


def test_classifier_and_generator_helpers_move_inputs_to_the_models_device():
    g, _ = models.build(replace(SMALL.model, conditional=True), 0)
    x, lenet = images(30), classifier.LeNet()
    with FakeTensorMode(allow_non_fake_inputs=True), Recorder() as rec:
        lenet = fake_cuda(lenet)
        feats, probs = classifier.embed(lenet, x, batch=10)
        assert feats.device.type == probs.device.type == "cpu" and probs.shape == (30, 10)
        assert len(rec.syncs) == 2
    z, y = sampling.latents(30, SMALL.model.z_dim, 0), torch.arange(30) % 10
    with FakeTensorMode(allow_non_fake_inputs=True), Recorder() as rec:
        drawn = sampling.generate(fake_cuda(g), z, y, batch=10)
    assert drawn.device.type == "cpu" and drawn.shape == (30, 1, 28, 28)
    assert rec.syncs == ["_local_scalar_dense.default", "_to_copy.default"]  # finite? images


@pytest.mark.filterwarnings("ignore:Accessing the data pointer of FakeTensor")
def test_what_leaves_a_gpu_for_a_file_or_a_process_is_on_the_cpu(monkeypatch):
    monkeypatch.setattr(device, "generator_device", lambda d: torch.device("cpu"))
    built = models.build(SMALL.model, 0)  # on the CPU: the fake mode fakes their move
    monkeypatch.setattr(training, "build", lambda *args: built)
    with FakeTensorMode(allow_non_fake_inputs=True):
        nets = training.build_nets(SMALL.model, SMALL.train, torch.device("cuda"))
        assert next(nets.g.parameters()).device.type == "cuda"
        saved = []
        monkeypatch.setattr(atomic, "write_torch", lambda path, obj: saved.append(obj))
        resume.save_resume(Path("c.pt"), "fp", "cuda in bf16", 1, nets, {"rows": [[1.0]]})
        sent = []
        monkeypatch.setattr(
            distributed.dist, "broadcast_object_list", lambda box, src: sent.extend(box)
        )
        distributed.from_main((nets.state_dict(), {"grids": []}, 0), distributed.ALONE)
    for obj in (saved[0], sent[0]):
        tensors = [t for t in tree_leaves(obj) if isinstance(t, torch.Tensor)]
        assert len(tensors) > 20 and {t.device.type for t in tensors} == {"cpu"}
    assert saved[0]["where"] == "cuda in bf16" and saved[0]["rows"] == [[1.0]]


def test_device_neutral_copies_keep_cpu_tensors_and_structure():
    a, b = torch.ones(2), torch.zeros(1)
    obj = {"x": [a, (b, 3)], "y": None, 1: "s"}
    copy = device.on_cpu(obj)
    assert copy == {"x": [a, (b, 3)], "y": None, 1: "s"}
    assert copy["x"][0] is a and isinstance(copy["x"][1], tuple)  # no copy of CPU tensors


TRAIN = replace(SMALL.train, batch_size=16, amp=None, lr_decay=0.0)


def gpu_checkpoint(path: Path, x: torch.Tensor, y: torch.Tensor, train_params) -> None:
    """The checkpoint a CUDA run in bf16 leaves after epoch 1 of this very run: its
    fingerprint made there, its noise generator's state a CUDA one (16 bytes)."""
    nets = training.build_nets(SMALL.model, train_params, torch.device("cpu"))
    where = "cuda in bf16"
    fp = resume.fingerprint(SMALL.model, train_params, x, y, (nets.g, nets.d), where)
    resume.save_resume(path, fp, where, 1, nets, {"rows": [], "epoch_means": [], "grids": []})
    state = torch.load(path, weights_only=True)
    state["rng"] = torch.zeros(16, dtype=torch.uint8)
    torch.save(state, path)


def test_a_gpu_checkpoint_on_a_cpu_trains_afresh_saying_why_in_one_line(tmp_path, capsys):
    x, y, ckpt = images(16), torch.arange(16) % 10, tmp_path / "c.pt"
    gpu_checkpoint(ckpt, x, y, replace(TRAIN, device="auto", amp="auto"))
    result = training.train(x, SMALL.model, replace(TRAIN, epochs=1), ckpt, y)
    assert result.images_seen == 16  # epoch 1 trained again, not resumed
    lines = [line for line in capsys.readouterr().err.splitlines() if "c.pt" in line]
    assert lines == [
        f"ignoring {ckpt}: it was trained on cuda in bf16, this run trains on cpu in fp32"
    ]
    assert not (tmp_path / "c.pt.bad").exists()
    assert torch.load(ckpt, weights_only=True)["where"] == "cpu in fp32"


def test_a_checkpoint_resumes_whether_the_device_was_named_or_auto(tmp_path, capsys):
    x, y, ckpt = images(16), torch.arange(16) % 10, tmp_path / "c.pt"
    training.train(x, SMALL.model, replace(TRAIN, epochs=1, device="cpu"), ckpt, y)
    result = training.train(x, SMALL.model, replace(TRAIN, epochs=2, device="auto"), ckpt, y)
    assert result.images_seen == 16  # only epoch 2 ran
    assert f"resuming from {ckpt} after epoch 1" in capsys.readouterr().err
