"""Causal 1-D convolutions (channel-first, one example) and a residual unit built from them."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

__all__ = ["ACTIVATIONS", "CausalConv1d", "CausalConvTranspose1d", "ResidualUnit1d", "zero_biases"]


def _check_positive(name: str, **values: int) -> None:
    for field, value in values.items():
        if int(value) < 1:
            raise ValueError(f"{name}: {field} must be >= 1, got {value}")


def _inner(conv: eqx.Module) -> eqx.Module:
    """The equinox convolution itself, under its ``equinox.nn.WeightNorm`` if any."""
    return conv.layer if isinstance(conv, eqx.nn.WeightNorm) else conv


def _kernel_and_bias(conv: eqx.Module) -> tuple[Float[Array, "c_out c_in taps"], Array | None]:
    """A 1-D (transposed) convolution's effective ``[C_out, C_in, K]`` kernel and its bias.

    Applies ``equinox.nn.WeightNorm`` as built here (``g * v / ||v||`` per output channel, axis 0).
    """
    inner = _inner(conv)
    if inner is conv:
        return conv.weight, conv.bias  # type: ignore[attr-defined]
    v = inner.weight  # type: ignore[attr-defined]
    return v * conv.g / jnp.sqrt(jnp.sum(v**2, axis=(1, 2), keepdims=True)), inner.bias  # type: ignore[attr-defined]


class CausalConv1d(eqx.Module):
    """A 1-D convolution that never looks at the future, optionally strided.

    Acts on one example, channel-first ``[channels, time]`` like ``equinox.nn.Conv1d``; batch
    it with ``jax.vmap``. The input is padded on the left only, by
    ``pad = dilation * (kernel_size - 1) + 1 - stride`` (SoundStream, Zeghidour et al. 2021,
    Sec. 3.1), so that for ``T`` a multiple of ``stride`` the output has exactly
    ``T // stride`` steps and output step ``j`` depends only on inputs ``0 .. (j + 1) * stride - 1``,
    i.e. on its own stride block and the past. In general the output has
    ``T // stride`` steps (a trailing partial block is dropped, never looked into).

    This needs ``dilation * (kernel_size - 1) + 1 >= stride`` (the kernel covers a stride block).
    With ``weight_norm=True`` the kernel is ``g * v / ||v||`` per output channel (Salimans &
    Kingma 2016, as in EnCodec and DAC), through ``equinox.nn.WeightNorm``.

    A strided convolution (dilation 1) runs on the input folded into ``stride`` phases, a
    stride-1 convolution whose input gradient skips the zeros a strided convolution's gradient
    inserts (see `_polyphase`); values and gradients are those of the wrapped ``conv``.
    """

    conv: eqx.nn.Conv1d | eqx.nn.WeightNorm
    in_channels: int = eqx.field(static=True)
    kernel_size: int = eqx.field(static=True)
    stride: int = eqx.field(static=True)
    dilation: int = eqx.field(static=True)
    left_pad: int = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        stride: int = 1,
        dilation: int = 1,
        use_bias: bool = True,
        padding_mode: str = "ZEROS",
        weight_norm: bool = False,
        key: PRNGKeyArray,
    ):
        """Build the layer.

        Args:
            in_channels: input channels.
            out_channels: output channels.
            kernel_size: taps of the kernel.
            stride: down-sampling factor.
            dilation: spacing of the taps.
            use_bias: add a learned bias.
            padding_mode: ``"ZEROS"`` (no history before the start) or ``"REPLICATE"`` (the
                first frame is repeated into the past), as in ``equinox.nn.Conv1d``.
            weight_norm: reparameterize the kernel with weight normalization.
            key: PRNG key for the weights.
        """
        _check_positive(
            "CausalConv1d",
            in_channels=in_channels,
            out_channels=out_channels,
            kernel_size=kernel_size,
            stride=stride,
            dilation=dilation,
        )
        span = dilation * (kernel_size - 1) + 1
        if span < stride:
            raise ValueError(
                f"CausalConv1d: the kernel span dilation*(kernel_size-1)+1 = {span} is shorter "
                f"than the stride {stride}; use kernel_size >= stride"
            )
        self.in_channels = in_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.dilation = dilation
        self.left_pad = span - stride
        conv = eqx.nn.Conv1d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=((self.left_pad, 0),),
            dilation=dilation,
            use_bias=use_bias,
            padding_mode=padding_mode,
            key=key,
        )
        self.conv = eqx.nn.WeightNorm(conv) if weight_norm else conv

    def __call__(self, x: Float[Array, "channels time"]) -> Float[Array, "out_channels steps"]:
        """Convolve ``x`` ``[in_channels, T]`` to ``[out_channels, T // stride]``."""
        if x.ndim != 2 or x.shape[0] != self.in_channels:
            raise ValueError(f"CausalConv1d expects [{self.in_channels}, time], got shape {x.shape}")
        if x.shape[1] < self.stride:
            raise ValueError(
                f"CausalConv1d: input of {x.shape[1]} steps is shorter than the stride {self.stride}"
            )
        padding_mode = _inner(self.conv).padding_mode  # type: ignore[attr-defined]
        if self.stride == 1 or self.dilation != 1 or padding_mode not in ("ZEROS", "REPLICATE"):
            return self.conv(x)  # [C_in, T] -> [C_out, T // stride]
        return self._polyphase(x, replicate=padding_mode == "REPLICATE")

    def _polyphase(self, x: Float[Array, "channels time"], *, replicate: bool) -> Float[Array, "out_channels steps"]:
        """The same strided convolution, on the input folded into ``stride`` phases.

        The (padded) input ``[C_in, S * B]`` is read as ``[C_in * S, B]`` (space to depth) and
        convolved with stride 1 and ``ceil(span / S)`` taps. Same outputs, but its gradient with
        respect to the input is a stride-1 convolution too: that of the strided form dilates
        the output gradient with ``S - 1`` zeros, which XLA's CPU backend multiplies through.
        """
        weight, bias = _kernel_and_bias(self.conv)  # [C_out, C_in, K]
        c_out, c_in, k = weight.shape
        s = self.stride
        steps = x.shape[1] // s
        lead = -(-self.left_pad // s) * s  # the left pad rounded up to whole blocks
        taps = -(-(k + lead - self.left_pad) // s)
        mode = "edge" if replicate else "constant"
        x = jnp.pad(x[:, : steps * s], ((0, 0), (lead, taps * s - lead)), mode=mode)  # [C_in, S * (steps + taps)]
        blocks = x.reshape(c_in, -1, s).transpose(0, 2, 1).reshape(c_in * s, -1)  # [(C_in, r), block]
        # Offset o = m S + r from the start of output j's block holds tap o - (lead - left_pad).
        shifted = jnp.pad(weight, ((0, 0), (0, 0), (lead - self.left_pad, taps * s - k - lead + self.left_pad)))
        kernel = shifted.reshape(c_out, c_in, taps, s).transpose(0, 1, 3, 2).reshape(c_out, c_in * s, taps)
        y = jax.lax.conv_general_dilated(blocks[None], kernel, window_strides=(1,), padding="VALID")[0]
        y = y[:, :steps]  # [C_out, steps]
        return y if bias is None else y + bias


class CausalConvTranspose1d(eqx.Module):
    """A transposed 1-D convolution (up-sampling by ``stride``) kept causal by trimming.

    The full transposed convolution of ``T`` steps has ``(T - 1) * stride + span`` steps
    (``span = dilation * (kernel_size - 1) + 1``); only the first ``T * stride`` are kept, so
    output step ``p`` depends only on inputs ``0 .. p // stride`` (SoundStream decoder blocks).
    Needs ``span >= stride`` so every kept step exists. One example, ``[channels, time]``.
    ``weight_norm`` as in `CausalConv1d`.

    With ``icnr_init=True`` the kernel starts with its taps tied across the ``stride`` output
    phases (ICNR, Aitken et al. 2017, "Checkerboard artifact free sub-pixel convolution"): the
    layer then begins as nearest-neighbour up-sampling followed by a ``kernel_size / stride``-tap
    convolution at the input rate, so a constant input gives a constant output instead of a
    pattern repeating every ``stride`` steps (in audio, tones at multiples of the input rate).
    Training unties the phases. Needs ``dilation = 1`` and ``kernel_size`` a multiple of
    ``stride``.

    With dilation 1 the layer runs as ``stride`` interleaved stride-1 convolutions at the input
    rate (sub-pixel form, see `_polyphase`): the same values and gradients as the wrapped
    zero-stuffed ``conv``, without its ``stride - 1`` multiplications by zero per tap.
    """

    conv: eqx.nn.ConvTranspose1d | eqx.nn.WeightNorm
    in_channels: int = eqx.field(static=True)
    stride: int = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        stride: int = 1,
        dilation: int = 1,
        use_bias: bool = True,
        weight_norm: bool = False,
        icnr_init: bool = False,
        key: PRNGKeyArray,
    ):
        """Build the layer; arguments as in `CausalConv1d`, ``icnr_init`` as above."""
        _check_positive(
            "CausalConvTranspose1d",
            in_channels=in_channels,
            out_channels=out_channels,
            kernel_size=kernel_size,
            stride=stride,
            dilation=dilation,
        )
        span = dilation * (kernel_size - 1) + 1
        if span < stride:
            raise ValueError(
                f"CausalConvTranspose1d: the kernel span {span} is shorter than the stride "
                f"{stride}; use kernel_size >= stride"
            )
        if icnr_init and (dilation != 1 or kernel_size % stride):
            raise ValueError(
                f"CausalConvTranspose1d: icnr_init needs dilation 1 and kernel_size a multiple of the "
                f"stride, got kernel_size {kernel_size}, stride {stride}, dilation {dilation}"
            )
        self.in_channels = in_channels
        self.stride = stride
        conv = eqx.nn.ConvTranspose1d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            dilation=dilation,
            use_bias=use_bias,
            key=key,
        )
        if icnr_init:
            # Tap k feeds output phase k % stride; copy each group's phase-0 tap to its phases.
            # The variance reaching each output is unchanged (still kernel_size/stride taps).
            first = conv.weight[:, :, ::stride]  # [C_out, C_in, kernel_size / stride]
            tied = jnp.repeat(first, stride, axis=-1)  # -> [C_out, C_in, kernel_size]
            conv = eqx.tree_at(lambda c: c.weight, conv, tied)
        self.conv = eqx.nn.WeightNorm(conv) if weight_norm else conv

    def __call__(self, x: Float[Array, "channels time"]) -> Float[Array, "out_channels upsampled"]:
        """Up-sample ``x`` ``[in_channels, T]`` to ``[out_channels, T * stride]``."""
        if x.ndim != 2 or x.shape[0] != self.in_channels:
            raise ValueError(f"CausalConvTranspose1d expects [{self.in_channels}, time], got shape {x.shape}")
        if _inner(self.conv).dilation != (1,):  # type: ignore[attr-defined]
            y = self.conv(x)  # [C_in, T] -> [C_out, (T - 1) * stride + span]
            return y[:, : x.shape[1] * self.stride]  # -> [C_out, T * stride]
        return self._polyphase(x)

    def _polyphase(self, x: Float[Array, "channels time"]) -> Float[Array, "out_channels upsampled"]:
        """The same map as the zero-stuffed transposed convolution, as ``stride`` phases.

        Output step ``t * S + r`` is ``sum_j W[K - 1 - (j S + r)] x[t - j]``: a causal
        convolution at the input rate with ``ceil(K / S)`` taps and ``C_out * S`` output
        channels, whose phases are then interleaved. It skips the multiplications by the
        ``S - 1`` zeros inserted between inputs, ``S`` times fewer than the dilated form
        (which XLA's CPU backend runs as is).
        """
        weight, bias = _kernel_and_bias(self.conv)  # [C_out, C_in, K]
        c_out, c_in, k = weight.shape
        s = self.stride
        taps = -(-k // s)
        delays = jnp.pad(weight[:, :, ::-1], ((0, 0), (0, 0), (0, taps * s - k)))  # [.., q = j S + r]
        delays = delays.reshape(c_out, c_in, taps, s)  # [C_out, C_in, j, r]
        # Correlation tap i reads x[t + i - (taps - 1)], delay j = taps - 1 - i.
        kernel = jnp.transpose(delays[:, :, ::-1, :], (0, 3, 1, 2)).reshape(c_out * s, c_in, taps)
        y = jax.lax.conv_general_dilated(
            x[None], kernel, window_strides=(1,), padding=((taps - 1, 0),)
        )[0]  # [C_out * S, T]
        y = jnp.transpose(y.reshape(c_out, s, -1), (0, 2, 1)).reshape(c_out, -1)  # -> [C_out, T * S]
        return y if bias is None else y + bias


class ResidualUnit1d(eqx.Module):
    """A causal residual unit: ``x + act(conv_1x1(act(causal_conv_k(x))))``.

    The SoundStream residual unit (Zeghidour et al. 2021, Sec. 3.1: dilated causal conv, ELU,
    1x1 conv, ELU, plus a skip connection); channels are preserved and the length is unchanged.
    """

    conv: CausalConv1d
    pointwise: eqx.nn.Conv1d | eqx.nn.WeightNorm
    activation: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(
        self,
        channels: int,
        kernel_size: int = 7,
        *,
        dilation: int = 1,
        hidden_channels: int | None = None,
        activation: Callable[[Array], Array] = jax.nn.elu,
        padding_mode: str = "ZEROS",
        weight_norm: bool = False,
        key: PRNGKeyArray,
    ):
        """Build the unit.

        Args:
            channels: input and output channels.
            kernel_size: taps of the dilated causal convolution.
            dilation: dilation of that convolution.
            hidden_channels: channels between the two convolutions (default ``channels``).
            activation: element-wise non-linearity (default ELU, as in SoundStream).
            padding_mode: see `CausalConv1d`.
            weight_norm: weight-normalize both convolutions (see `CausalConv1d`).
            key: PRNG key.
        """
        hidden = channels if hidden_channels is None else hidden_channels
        k1, k2 = jax.random.split(key)
        self.conv = CausalConv1d(
            channels, hidden, kernel_size, dilation=dilation, padding_mode=padding_mode,
            weight_norm=weight_norm, key=k1,
        )  # fmt: skip
        pointwise = eqx.nn.Conv1d(hidden, channels, 1, key=k2)
        self.pointwise = eqx.nn.WeightNorm(pointwise) if weight_norm else pointwise
        self.activation = activation

    def __call__(self, x: Float[Array, "channels time"]) -> Float[Array, "channels time"]:
        """Apply the unit to ``x`` ``[channels, T]``."""
        h = self.activation(self.conv(x))  # [C, T] -> [H, T]
        h = self.activation(self.pointwise(h))  # [H, T] -> [C, T]
        return x + h


_BIASED = (eqx.nn.Conv, eqx.nn.ConvTranspose, eqx.nn.Linear)


def zero_biases(tree: eqx.Module) -> eqx.Module:
    """``tree`` with the bias of every Equinox convolution, transposed convolution and linear
    layer in it set to zero (Flax's default bias initialisation).

    Equinox, like PyTorch, draws biases from ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, as large as
    the weights. In a deep conv stack fed a quiet signal (speech at -26 dBFS) those offsets
    outweigh the input-dependent part at every layer, so the network starts out computing a
    near-constant function and spends its first several hundred steps escaping it.
    """
    is_layer = lambda node: isinstance(node, _BIASED)  # noqa: E731
    layers = [
        node for node in jax.tree_util.tree_leaves(tree, is_leaf=is_layer)
        if is_layer(node) and node.bias is not None
    ]  # fmt: skip
    if not layers:
        return tree
    return eqx.tree_at(
        lambda t: [node.bias for node in jax.tree_util.tree_leaves(t, is_leaf=is_layer)
                   if is_layer(node) and node.bias is not None],
        tree,
        [jnp.zeros_like(node.bias) for node in layers],
    )  # fmt: skip


ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "elu": jax.nn.elu,
    "relu": jax.nn.relu,
    "silu": jax.nn.silu,
    "gelu": jax.nn.gelu,
    "leaky_relu": jax.nn.leaky_relu,
    "tanh": jnp.tanh,
}
"""Activations by name, so configs (TOML/JSON) can name them."""
