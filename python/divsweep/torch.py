"""divsweep.torch — the fused divergence kernels as a PyTorch loss (autograd Function + Module).

divergence(student_logits, teacher_logits, div, ...) runs the C library's fused forward+backward
once in forward, keeps the gradient, and returns it scaled by grad_output in backward (no second
pass).  Gradients flow to the student logits only; teachers are treated as constants (detached).

Devices and dtypes: CPU tensors are computed in float32 (float16 / bfloat16 / float64 inputs are
converted to float32 on the way in; the loss comes back float32, the gradient in the student's
dtype).  CUDA tensors go to the library's CUDA backend when it was built and a device is present
(float32, and bfloat16 read natively); otherwise a clear RuntimeError.
Padded rows: mask= (True = keep) or labels= with ignore_index (-100): rows whose label equals it
contribute no loss and get a zero gradient; batchmean divides by the active rows.
"""
import torch as _torch

from . import kernels as _k

__all__ = ["divergence", "DivergenceLoss", "cuda_available"]


def cuda_available():
    """Whether the library has a usable CUDA backend (built with CUDA and a device present)."""
    lib = _k._lib.load()
    return lib.ds_kern_cuda_device_count() > 0 and lib.ds_kern_backend_get(b"cuda") is not None


def _rows(x):
    return x.reshape(-1, x.shape[-1])


class _Fused(_torch.autograd.Function):
    @staticmethod
    def forward(ctx, student, opts, mask, *teachers):
        div, kw = opts
        V = student.shape[-1]
        rows = student.numel() // V if V else 0
        on_cuda = student.is_cuda
        if on_cuda:
            if not cuda_available():
                raise RuntimeError("divsweep: CUDA tensors need the CUDA kernel backend, and this "
                                   "libdivsweep_kernels was built without CUDA or sees no device; "
                                   "move the tensors to the CPU")
            dtype_code = 1 if student.dtype == _torch.bfloat16 else 0
            want = _torch.bfloat16 if dtype_code else _torch.float32
            _torch.cuda.synchronize(student.device)
            backend = "cuda"
        else:
            dtype_code, want, backend = 0, _torch.float32, kw.get("backend", "cpu")
        s = _rows(student.detach()).to(dtype=want).contiguous()
        ts = []
        for i, t in enumerate(teachers):
            if t.shape != student.shape:
                raise ValueError("teacher %d has shape %s, student %s" % (i, tuple(t.shape), tuple(student.shape)))
            if t.device != student.device:
                raise ValueError("teacher %d is on %s, the student on %s" % (i, t.device, student.device))
            ts.append(_rows(t.detach()).to(dtype=want).contiguous())
        m = None
        if mask is not None:
            m = mask.detach().reshape(-1).to(device="cpu", dtype=_torch.uint8).contiguous()
            if m.numel() != rows:
                raise ValueError("mask has %d entries, the logits %d rows" % (m.numel(), rows))
        grad = _torch.empty(s.shape, dtype=_torch.float32, device=s.device)
        red = kw.get("reduction", "batchmean")
        rl = _torch.empty(rows, dtype=_torch.float64) if red == "none" else None
        loss = _k.run(s.data_ptr(), [t.data_ptr() for t in ts], rows, V, div,
                      temperature=kw.get("temperature", 1.0), t2=kw.get("t2", False), reduction=red,
                      weights=kw.get("weights"), mix=kw.get("mix", "arithmetic"),
                      mask_ptr=m.data_ptr() if m is not None else None, threads=kw.get("threads"),
                      backend=backend, dtype=dtype_code, grad_ptr=grad.data_ptr(),
                      row_loss_ptr=rl.data_ptr() if rl is not None else None, params=kw.get("params"))
        # Kept as an attribute (a plain buffer, not an input or output: no version checks needed);
        # backward returns it unscaled when grad_output is 1, the usual case of loss.backward().
        ctx.grad = grad.view(student.shape)
        ctx.student_dtype = student.dtype
        ctx.reduction = red
        if rl is not None:
            if m is not None:
                rl[m == 0] = 0.0
            out = rl.to(dtype=_torch.float32, device=student.device).view(student.shape[:-1])
            if student.dtype == _torch.float64:
                out = rl.to(device=student.device).view(student.shape[:-1])
            return out
        odt = _torch.float64 if student.dtype == _torch.float64 else _torch.float32
        return _torch.tensor(loss, dtype=odt, device=student.device)

    @staticmethod
    def backward(ctx, grad_output):
        g = ctx.grad
        if ctx.reduction == "none":
            g = g * grad_output.to(g.dtype).unsqueeze(-1)
        elif grad_output.numel() != 1 or grad_output.item() != 1.0:
            g = g * grad_output.to(g.dtype)
        return (g.to(ctx.student_dtype), None, None) + (None,) * (len(ctx.needs_input_grad) - 3)


def divergence(student_logits, teacher_logits, div="fkl", *, temperature=1.0, t2=False,
               reduction="batchmean", weights=None, mix="arithmetic", mask=None, labels=None,
               ignore_index=-100, threads=None, backend="cpu", **params):
    """Fused divergence loss D(teacher‖student) on logits [..., V]; differentiable in the student.

    teacher_logits: a tensor shaped like student_logits, or a list of them (mixed by weights
    under mix).  labels with ignore_index (or mask, True = keep) mark padded rows.  The other
    arguments are those of divsweep.kernels.divergence; reduction="none" returns [...] row losses.
    """
    teachers = list(teacher_logits) if isinstance(teacher_logits, (list, tuple)) else [teacher_logits]
    if not teachers:
        raise ValueError("need at least one teacher")
    if labels is not None:
        if mask is not None:
            raise ValueError("give mask or labels, not both")
        mask = labels.reshape(-1) != ignore_index
    if mask is not None and not isinstance(mask, _torch.Tensor):
        mask = _torch.as_tensor(mask)
    kw = dict(temperature=temperature, t2=t2, reduction=reduction, weights=weights, mix=mix,
              threads=threads, backend=backend, params=params)
    return _Fused.apply(student_logits, (div, kw), mask, *teachers)


class DivergenceLoss(_torch.nn.Module):
    """nn.Module form: DivergenceLoss("jsd", beta=0.5, temperature=2.0, t2=True)(student, teacher)."""

    def __init__(self, div="fkl", **kwargs):
        super().__init__()
        self.div = div
        self.kwargs = kwargs

    def forward(self, student_logits, teacher_logits, labels=None, mask=None):
        return divergence(student_logits, teacher_logits, self.div, labels=labels, mask=mask, **self.kwargs)

    def extra_repr(self):
        return "div=%r, %s" % (self.div, ", ".join("%s=%r" % kv for kv in self.kwargs.items()))
