#!/usr/bin/python3
"""An independent PyTorch implementation of the multi-task model (src/Model.CSharp/MultiTaskModel.cs and the modules
it is built from), for two uses:

  check DIR   loads what our C# side exported into DIR (config.json, weights.dat, batch.dat, ours.dat), computes the
              same forward pass, losses and parameter gradients in eval mode (dropout off), and prints one JSON
              object comparing every output and gradient with ours;
  time DIR    times training steps (forward, losses, backward, gradient clipping at 5, Adam β 0.9/0.98, ε 1e-9) of
              the model described by DIR/config.json on DIR/batch.dat, in train mode (dropout on), at a given
              thread count, and prints one JSON object with the milliseconds of every step.

Written from the model's description, not translated from the C#: plain functions of a parameter dictionary, built
from torch.nn.functional, runnable with Debian's python3-torch 1.13 (which has no scaled_dot_product_attention, so
attention is written out). What the model is (README, "The model"):

  audio  (B, Ta, 200) ─ Linear → + sinusoidal positions → dropout → N pre-norm self-attention layers → LayerNorm
                        → zero at padded audio frames                                      = a
  video  (B, Tv, dv)  ─ Linear → + positions → dropout = s; the target stream x starts as a and, per layer,
  text   (B, Tw, dt)    x += Attn(LN(x), LN_src(s)) over the source's valid frames; x += FF(LN(x));
                        then LayerNorm → zero at padded audio frames                       = v, t
  fused = wa·a + wv·v + wt·t          (a stream whose weight is 0 is not computed and has no parameters)
  ASR decoder: Embedding·√D + positions → dropout → N layers (causal self-attention, attention over the fused
               sequence's valid frames, feed-forward; pre-norm) → LayerNorm → Linear(D, vocabulary)
  speaker / emotion heads: mean of the fused sequence over valid audio frames → Linear
  loss = w_asr·CE(characters; label smoothing; pad targets ignored) + w_spk·CE(speakers)
         + w_emo·BCE-with-logits(emotions; per-class positive weights)

Attention is multi-head softmax(QKᵀ/√d_head)V with separate q, k, v and output projections; a key may be attended
when it is a valid frame (and, in the decoder's self-attention, not in the future). Feed-forward is
Linear → ReLU → dropout → Linear. LayerNorm ε = 1e-5. Positions: even dimension 2i of step t is
sin(t / 10000^(2i/D)), odd dimension 2i+1 the cosine of the same angle.

Files use TorchSharp's `Module.save` format (tools/convert_vgg16.py documents it; this file reads and writes it).
Parameter names are our module field names, e.g. encoder.audio.layers.0.self_attn.q_proj.weight.
"""
import argparse
import collections
import json
import math
import os
import platform
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

PAD = 0  # CharVocabulary.Pad: padding of the ASR sequences, ignored by the loss, the Embedding's padding row

# TorchSharp's ScalarType codes (they follow c10::ScalarType) and the numpy types of their bytes.
DTYPES = {
    0: (torch.uint8, np.uint8),
    1: (torch.int8, np.int8),
    2: (torch.int16, np.int16),
    3: (torch.int32, np.int32),
    4: (torch.int64, np.int64),
    5: (torch.float16, np.float16),
    6: (torch.float32, np.float32),
    7: (torch.float64, np.float64),
    11: (torch.bool, np.bool_),
}
CODES = {torch_type: code for code, (torch_type, _) in DTYPES.items()}


# ---------------------------------------------------------------------------------------------------------------
# TorchSharp's tensor-file format: LEB128 entry count; per entry the key (LEB128 byte length + UTF-8), dtype code,
# rank, dimensions (all LEB128), then the raw little-endian elements in row-major order.


def _leb128(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


class _Reader:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.data = f.read()
        self.at = 0

    def uleb(self, what):
        value, shift = 0, 0
        while True:
            if self.at >= len(self.data):
                raise ValueError(f"{self.path}: truncated at byte {self.at} while reading {what}")
            byte = self.data[self.at]
            self.at += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    def take(self, n, what):
        if self.at + n > len(self.data):
            raise ValueError(f"{self.path}: truncated: {what} needs {n} bytes at {self.at}, the file has {len(self.data)}")
        chunk = self.data[self.at:self.at + n]
        self.at += n
        return chunk


def read_tensors(path):
    """Reads a TorchSharp-format file into an ordered dict of tensors (copies, CPU)."""
    r = _Reader(path)
    count = r.uleb("the entry count")
    out = collections.OrderedDict()
    for i in range(count):
        key = r.take(r.uleb(f"entry {i}'s key length"), f"entry {i}'s key").decode("utf-8")
        code = r.uleb(f"{key}: dtype")
        if code not in DTYPES:
            raise ValueError(f"{path}: entry '{key}' has dtype code {code}, which this reader does not handle")
        torch_type, np_type = DTYPES[code]
        shape = [r.uleb(f"{key}: dimension") for _ in range(r.uleb(f"{key}: rank"))]
        n = int(np.prod(shape)) if shape else 1
        raw = r.take(n * np.dtype(np_type).itemsize, f"entry '{key}' {shape}")
        array = np.frombuffer(raw, dtype=np.dtype(np_type).newbyteorder("<")).reshape(shape)
        out[key] = torch.from_numpy(array.astype(np_type, copy=True))
    if r.at != len(r.data):
        raise ValueError(f"{path}: {len(r.data) - r.at} trailing bytes after {count} entries")
    return out


def write_tensors(state, path):
    """Writes an ordered dict of tensors in TorchSharp's format, atomically (temporary name, then rename)."""
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temp, "wb") as f:
            f.write(_leb128(len(state)))
            for key, t in state.items():
                t = t.detach().cpu().contiguous()
                if t.dtype not in CODES:
                    raise TypeError(f"entry '{key}' has dtype {t.dtype}, which this writer does not handle")
                name = key.encode("utf-8")
                f.write(_leb128(len(name)) + name + _leb128(CODES[t.dtype]) + _leb128(t.dim()))
                for d in t.shape:
                    f.write(_leb128(d))
                array = t.numpy()
                f.write(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


# ---------------------------------------------------------------------------------------------------------------
# Configuration: the fields of ModelConfig that shape the model (config.json uses the C# property names).


class Config:
    FIELDS = ["AudioDim", "VideoDim", "TextDim", "DModel", "Heads", "FeedForward", "AudioLayers", "CrossModalLayers",
              "DecoderLayers", "VocabSize", "Speakers", "Emotions", "Dropout", "LabelSmoothing"]

    def __init__(self, values, source="config"):
        missing = [k for k in self.FIELDS + ["Modalities", "Tasks"] if k not in values]
        if missing:
            raise ValueError(f"{source}: missing {', '.join(missing)}")
        for k in self.FIELDS:
            setattr(self, k, values[k])
        m, t = values["Modalities"], values["Tasks"]
        self.modalities = {"audio": float(m["Audio"]), "video": float(m["Video"]), "text": float(m["Text"])}
        self.tasks = {"asr": float(t["Asr"]), "speaker": float(t["Speaker"]), "emotion": float(t["Emotion"])}
        if self.DModel % self.Heads:
            raise ValueError(f"{source}: DModel {self.DModel} is not divisible by Heads {self.Heads}")
        self.values = values

    @staticmethod
    def load(path):
        with open(path) as f:
            return Config(json.load(f), path)


def parameter_shapes(c):
    """Every parameter of the model, in our modules' order: name -> shape."""
    d, f = c.DModel, c.FeedForward
    shapes = collections.OrderedDict()

    def linear(name, i, o):
        shapes[f"{name}.weight"] = (o, i)
        shapes[f"{name}.bias"] = (o,)

    def norm(name):
        shapes[f"{name}.weight"] = (d,)
        shapes[f"{name}.bias"] = (d,)

    def attention(name):
        for p in ["q_proj", "k_proj", "v_proj", "out_proj"]:
            linear(f"{name}.{p}", d, d)

    def feed_forward(name):
        linear(f"{name}.w1", d, f)
        linear(f"{name}.w2", f, d)

    linear("encoder.audio.input_proj", c.AudioDim, d)
    for i in range(c.AudioLayers):
        layer = f"encoder.audio.layers.{i}"
        norm(f"{layer}.norm_attn")
        attention(f"{layer}.self_attn")
        norm(f"{layer}.norm_ff")
        feed_forward(f"{layer}.feed_forward")
    norm("encoder.audio.final_norm")
    for modality, dim in [("video", c.VideoDim), ("text", c.TextDim)]:
        if c.modalities[modality] > 0:
            linear(f"encoder.{modality}.source_proj", dim, d)
            for i in range(c.CrossModalLayers):
                layer = f"encoder.{modality}.layers.{i}"
                norm(f"{layer}.norm_query")
                norm(f"{layer}.norm_source")
                attention(f"{layer}.cross_attn")
                norm(f"{layer}.norm_ff")
                feed_forward(f"{layer}.feed_forward")
            norm(f"encoder.{modality}.final_norm")
    if c.tasks["asr"] > 0:
        shapes["asr.embed.weight"] = (c.VocabSize, d)
        for i in range(c.DecoderLayers):
            layer = f"asr.layers.{i}"
            norm(f"{layer}.norm_self")
            attention(f"{layer}.self_attn")
            norm(f"{layer}.norm_cross")
            attention(f"{layer}.cross_attn")
            norm(f"{layer}.norm_ff")
            feed_forward(f"{layer}.feed_forward")
        norm("asr.final_norm")
        linear("asr.output", d, c.VocabSize)
    if c.tasks["speaker"] > 0:
        linear("speaker.affine", d, c.Speakers)
    if c.tasks["emotion"] > 0:
        linear("emotion.affine", d, c.Emotions)
    return shapes


def init_parameters(c, generator, perturb_norms=False):
    """PyTorch's default initialisation (Linear: U(±1/√fan_in); LayerNorm: 1 and 0; Embedding: N(0, 1) with a zero
    padding row). perturb_norms: LayerNorm weights 1 + N(0, 0.2²) and biases N(0, 0.2²) and a non-zero padding row,
    so that a test can tell apart every parameter (two LayerNorms swapped would otherwise look the same)."""
    params = collections.OrderedDict()
    shapes = parameter_shapes(c)
    for name, shape in shapes.items():
        if name == "asr.embed.weight":
            t = torch.randn(shape, generator=generator)
            if not perturb_norms:
                t[PAD] = 0
        elif ".norm" in name or "final_norm" in name:
            base = torch.ones(shape) if name.endswith("weight") else torch.zeros(shape)
            t = base + 0.2 * torch.randn(shape, generator=generator) if perturb_norms else base
        else:
            fan_in = shapes[name.rsplit(".", 1)[0] + ".weight"][1]
            bound = 1.0 / math.sqrt(fan_in)
            t = (torch.rand(shape, generator=generator) * 2 - 1) * bound
        params[name] = t
    return params


def check_parameters(params, c, source):
    """Requires exactly the model's parameters with their shapes; the error names every difference."""
    expected = parameter_shapes(c)
    problems = []
    missing = [k for k in expected if k not in params]
    unexpected = [k for k in params if k not in expected]
    wrong = [f"{k} {tuple(params[k].shape)} (expected {expected[k]})" for k in expected
             if k in params and tuple(params[k].shape) != tuple(expected[k])]
    if missing:
        problems.append("missing: " + ", ".join(missing))
    if unexpected:
        problems.append("unexpected: " + ", ".join(unexpected))
    if wrong:
        problems.append("wrong shape: " + ", ".join(wrong))
    if problems:
        raise ValueError(f"{source}: not this configuration's parameters ({'; '.join(problems)})")


# ---------------------------------------------------------------------------------------------------------------
# The model as functions of the parameter dictionary p. Shapes: (B, T, D); padding (B, T) bool, True = padded.


class Model:
    def __init__(self, c, p, training):
        self.c, self.p, self.training = c, p, training
        self.heads = c.Heads
        self.drop = c.Dropout if training else 0.0

    def linear(self, name, x):
        return F.linear(x, self.p[f"{name}.weight"], self.p[f"{name}.bias"])

    def norm(self, name, x):
        return F.layer_norm(x, (x.shape[-1],), self.p[f"{name}.weight"], self.p[f"{name}.bias"], eps=1e-5)

    def dropout(self, x):
        return F.dropout(x, self.drop, self.training) if self.drop > 0 else x

    @staticmethod
    def positions(length, dim, dtype):
        t = torch.arange(length, dtype=torch.float64)[:, None]
        i = torch.arange(0, dim, 2, dtype=torch.float64)[None, :]
        angle = t / torch.pow(10000.0, i / dim)
        table = torch.zeros(length, dim, dtype=torch.float64)
        table[:, 0::2] = torch.sin(angle)
        table[:, 1::2] = torch.cos(angle)
        return table.to(dtype)

    def attention(self, name, query, memory, allowed):
        """allowed: bool, broadcastable to (B, heads, Tq, Tk), True where a query may read a key."""
        b, tq, d = query.shape
        tk = memory.shape[1]
        dh = d // self.heads

        def split(x, t):
            return x.reshape(b, t, self.heads, dh).permute(0, 2, 1, 3)  # (B, H, T, dh)

        q = split(self.linear(f"{name}.q_proj", query), tq)
        k = split(self.linear(f"{name}.k_proj", memory), tk)
        v = split(self.linear(f"{name}.v_proj", memory), tk)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(dh)
        scores = scores.masked_fill(~allowed, float("-inf"))
        weights = self.dropout(torch.softmax(scores, dim=-1))
        context = torch.matmul(weights, v).permute(0, 2, 1, 3).reshape(b, tq, d)
        return self.linear(f"{name}.out_proj", context)

    def feed_forward(self, name, x):
        return self.linear(f"{name}.w2", self.dropout(F.relu(self.linear(f"{name}.w1", x))))

    @staticmethod
    def keys_allowed(padding):
        return ~padding[:, None, None, :]  # (B, 1, 1, Tk)

    @staticmethod
    def zero_padded(x, padding):
        return x * (~padding)[..., None].to(x.dtype)

    def embed(self, name, x):
        x = self.linear(name, x)
        return self.dropout(x + self.positions(x.shape[1], x.shape[2], x.dtype)[None])

    def audio(self, features, padding):
        allowed = self.keys_allowed(padding)
        x = self.embed("encoder.audio.input_proj", features)
        for i in range(self.c.AudioLayers):
            layer = f"encoder.audio.layers.{i}"
            h = self.norm(f"{layer}.norm_attn", x)
            x = x + self.dropout(self.attention(f"{layer}.self_attn", h, h, allowed))
            x = x + self.dropout(self.feed_forward(f"{layer}.feed_forward", self.norm(f"{layer}.norm_ff", x)))
        return self.zero_padded(self.norm("encoder.audio.final_norm", x), padding)

    def cross_modal(self, modality, audio, audio_padding, source, source_padding):
        empty = source_padding.all(dim=1)
        if bool(empty.any()):
            raise ValueError(f"{modality}: items {empty.nonzero().flatten().tolist()} have no frames")
        allowed = self.keys_allowed(source_padding)
        s = self.embed(f"encoder.{modality}.source_proj", source)
        x = audio
        for i in range(self.c.CrossModalLayers):
            layer = f"encoder.{modality}.layers.{i}"
            src = self.norm(f"{layer}.norm_source", s)
            x = x + self.dropout(self.attention(f"{layer}.cross_attn", self.norm(f"{layer}.norm_query", x), src, allowed))
            x = x + self.dropout(self.feed_forward(f"{layer}.feed_forward", self.norm(f"{layer}.norm_ff", x)))
        return self.zero_padded(self.norm(f"encoder.{modality}.final_norm", x), audio_padding)

    def encoder(self, batch):
        w = self.c.modalities
        audio_padding = batch["audio.padding"]
        a = self.audio(batch["audio.features"], audio_padding)
        streams = {"audio": a}
        fused = w["audio"] * a
        for modality in ["video", "text"]:
            if w[modality] > 0:
                streams[modality] = self.cross_modal(modality, a, audio_padding, batch[f"{modality}.features"],
                                                     batch[f"{modality}.padding"])
                fused = fused + w[modality] * streams[modality]
        return fused, audio_padding, streams

    def asr(self, tokens, memory, memory_padding):
        length = tokens.shape[1]
        causal = torch.ones(length, length, dtype=torch.bool).tril()[None, None]  # key j visible from query i ≤ j
        memory_allowed = self.keys_allowed(memory_padding)
        y = F.embedding(tokens, self.p["asr.embed.weight"], padding_idx=PAD) * math.sqrt(self.c.DModel)
        y = self.dropout(y + self.positions(length, y.shape[2], y.dtype)[None])
        for i in range(self.c.DecoderLayers):
            layer = f"asr.layers.{i}"
            h = self.norm(f"{layer}.norm_self", y)
            y = y + self.dropout(self.attention(f"{layer}.self_attn", h, h, causal))
            y = y + self.dropout(self.attention(f"{layer}.cross_attn", self.norm(f"{layer}.norm_cross", y), memory,
                                                memory_allowed))
            y = y + self.dropout(self.feed_forward(f"{layer}.feed_forward", self.norm(f"{layer}.norm_ff", y)))
        return self.linear("asr.output", self.norm("asr.final_norm", y))

    @staticmethod
    def mean_over_valid(x, padding):
        valid = (~padding).to(x.dtype)[..., None]  # (B, T, 1)
        return (x * valid).sum(dim=1) / valid.sum(dim=1).clamp(min=1.0)

    def forward(self, batch):
        fused, padding, streams = self.encoder(batch)
        out = collections.OrderedDict()
        out["output.fused"] = fused
        for name, s in streams.items():
            out[f"output.{name}"] = s
        pooled = self.mean_over_valid(fused, padding)
        if self.c.tasks["asr"] > 0:
            out["output.asr_logits"] = self.asr(batch["asr.input"], fused, padding)
        if self.c.tasks["speaker"] > 0:
            out["output.speaker_logits"] = self.linear("speaker.affine", pooled)
        if self.c.tasks["emotion"] > 0:
            out["output.emotion_logits"] = self.linear("emotion.affine", pooled)
        return out


def smoothed_cross_entropy(logits, target, smoothing, ignore):
    """Mean over the targets that are not `ignore` of (1 - ε)·(−log p[target]) + ε·mean over classes of (−log p)."""
    logp = torch.log_softmax(logits, dim=-1)
    keep = target != ignore
    nll = -logp.gather(1, target.clamp(min=0)[:, None]).squeeze(1)
    uniform = -logp.mean(dim=1)
    per_item = (1 - smoothing) * nll + smoothing * uniform
    return per_item[keep].sum() / keep.sum()


def losses(c, out, batch):
    """The weighted terms; each present only when its task weight is positive."""
    w = c.tasks
    terms = collections.OrderedDict()
    total = 0.0
    if w["asr"] > 0:
        logits = out["output.asr_logits"]
        terms["loss.asr"] = smoothed_cross_entropy(logits.reshape(-1, logits.shape[-1]), batch["asr.target"].reshape(-1),
                                                   c.LabelSmoothing, PAD)
        total = total + w["asr"] * terms["loss.asr"]
    if w["speaker"] > 0:
        logp = torch.log_softmax(out["output.speaker_logits"], dim=-1)
        terms["loss.speaker"] = -logp.gather(1, batch["speakers"][:, None]).mean()
        total = total + w["speaker"] * terms["loss.speaker"]
    if w["emotion"] > 0:
        x, y = out["output.emotion_logits"], batch["emotions"]
        pos = batch.get("emotion_pos_weight")
        pos = torch.ones(x.shape[-1], dtype=x.dtype) if pos is None else pos
        terms["loss.emotion"] = -(pos * y * F.logsigmoid(x) + (1 - y) * F.logsigmoid(-x)).mean()
        total = total + w["emotion"] * terms["loss.emotion"]
    terms["loss.total"] = total
    return terms


def as_dtype(batch, dtype):
    return {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in batch.items()}


def evaluate(c, params, batch, dtype):
    """Outputs, losses and parameter gradients in eval mode (dropout off), computed in `dtype`."""
    p = collections.OrderedDict((k, v.detach().to(dtype).requires_grad_(True)) for k, v in params.items())
    b = as_dtype(batch, dtype)
    model = Model(c, p, training=False)
    out = model.forward(b)
    terms = losses(c, out, b)
    terms["loss.total"].backward()
    result = collections.OrderedDict((k, v.detach()) for k, v in out.items())
    result.update((k, v.detach().reshape(1)) for k, v in terms.items())
    result.update((f"grad.{k}", v.grad if v.grad is not None else torch.zeros_like(v)) for k, v in p.items())
    return result


# ---------------------------------------------------------------------------------------------------------------
# Comparison: |Δ| ≤ 1e-4·max(1, |reference|) per element (absolute for values up to 1, relative above), and the
# relative L2 error ‖Δ‖/‖reference‖ per tensor for information.

TOLERANCE = 1e-4
ZERO = 1e-6  # a reference tensor whose largest magnitude is below this is treated as zero (no relative error)


def compare(ours, reference, tolerance=TOLERANCE):
    rows = []
    for key, ref in reference.items():
        if key not in ours:
            rows.append({"name": key, "missing_in_ours": True, "ok": False})
            continue
        mine = ours[key].to(torch.float64).reshape(ref.shape) if ours[key].numel() == ref.numel() else None
        if mine is None:
            rows.append({"name": key, "shape_ours": list(ours[key].shape), "shape_reference": list(ref.shape), "ok": False})
            continue
        ref = ref.to(torch.float64)
        delta = (mine - ref).abs()
        scaled = delta / ref.abs().clamp(min=1.0)
        norm = float(ref.norm())
        largest = float(ref.abs().max()) if ref.numel() else 0.0
        rows.append({
            "name": key,
            "shape": list(ref.shape),
            "max_abs_reference": largest,
            "max_abs_diff": float(delta.max()) if ref.numel() else 0.0,
            "max_scaled_diff": float(scaled.max()) if ref.numel() else 0.0,
            # Not for a tensor that is zero in exact arithmetic (the key projections' bias gradients: softmax ignores
            # a shift shared by all scores of a query), where both sides hold rounding noise only.
            "relative_l2": float(delta.norm()) / norm if largest > ZERO else None,
            "ok": bool(ref.numel() == 0 or float(scaled.max()) <= tolerance),
        })
    extra = [k for k in ours if k not in reference and (k.startswith("output.") or k.startswith("loss.") or k.startswith("grad."))]
    return rows, extra


def summary(rows, prefix):
    chosen = [r for r in rows if r["name"].startswith(prefix) and "max_abs_diff" in r]
    if not chosen:
        return None
    worst = max(chosen, key=lambda r: r["max_scaled_diff"])
    rel = [r for r in chosen if r["relative_l2"] is not None]
    worst_rel = max(rel, key=lambda r: r["relative_l2"]) if rel else None
    return {
        "tensors": len(chosen),
        "max_abs_diff": max(r["max_abs_diff"] for r in chosen),
        "max_scaled_diff": worst["max_scaled_diff"],
        "worst": worst["name"],
        "max_relative_l2": worst_rel["relative_l2"] if worst_rel else None,
        "worst_relative_l2": worst_rel["name"] if worst_rel else None,
        "failures": [r["name"] for r in rows if r["name"].startswith(prefix) and not r["ok"]],
    }


def versions():
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "blas": _blas()}


def _blas():
    """The BLAS library torch's process has mapped (Debian's python3-torch uses the system libblas.so.3)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() and line.split()[-1].startswith("/")}
        return sorted(os.path.realpath(p) for p in libs)
    except OSError:
        return []


def command_check(args):
    c = Config.load(os.path.join(args.dir, "config.json"))
    params = read_tensors(os.path.join(args.dir, "weights.dat"))
    check_parameters(params, c, os.path.join(args.dir, "weights.dat"))
    batch = read_tensors(os.path.join(args.dir, "batch.dat"))
    ours = read_tensors(os.path.join(args.dir, "ours.dat"))
    torch.set_num_threads(args.threads)
    dtype = {"float32": torch.float32, "float64": torch.float64}[args.dtype]
    start = time.perf_counter()
    reference = evaluate(c, params, batch, dtype)
    seconds = time.perf_counter() - start
    rows, extra = compare(ours, reference)
    wide_path = os.path.join(args.dir, "ours64.dat")
    wide = None
    if os.path.exists(wide_path):
        wide_rows, _ = compare(read_tensors(wide_path), reference)
        wide = {"outputs": summary(wide_rows, "output."), "losses": summary(wide_rows, "loss."),
                "gradients": summary(wide_rows, "grad.")}
    report = {
        "versions": versions(),
        "reference_dtype": args.dtype,
        "threads": torch.get_num_threads(),
        "seconds": seconds,
        "tolerance": f"|ours - reference| <= {TOLERANCE} * max(1, |reference|) per element",
        "outputs": summary(rows, "output."),
        "losses": summary(rows, "loss."),
        "gradients": summary(rows, "grad."),
        "tensors": rows,
        "only_in_ours": extra,
        "ours_in_float64": wide,
        "ok": all(r["ok"] for r in rows) and not extra,
    }
    json.dump(report, sys.stdout)
    print()
    return 0


def command_time(args):
    torch.set_num_threads(args.threads)
    c = Config.load(os.path.join(args.dir, "config.json"))
    batch = read_tensors(os.path.join(args.dir, "batch.dat"))
    generator = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    params = collections.OrderedDict((k, v.requires_grad_(True)) for k, v in init_parameters(c, generator).items())
    optimiser = torch.optim.Adam(params.values(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9)
    model = Model(c, params, training=True)

    def step():
        start = time.perf_counter()
        optimiser.zero_grad()
        terms = losses(c, model.forward(batch), batch)
        total = float(terms["loss.total"])
        if not math.isfinite(total):
            raise ValueError(f"loss is {total}")
        terms["loss.total"].backward()
        torch.nn.utils.clip_grad_norm_(params.values(), 5.0)
        optimiser.step()
        return 1000.0 * (time.perf_counter() - start)

    for _ in range(args.warmup):
        step()
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    ms = [step() for _ in range(args.steps)]
    report = {
        "versions": versions(),
        "threads": torch.get_num_threads(),
        "parameters": sum(v.numel() for v in params.values()),
        "warmup_steps": args.warmup,
        "ms_per_step": ms,
        "process_cpu_share": (time.process_time() - cpu0) / (time.perf_counter() - wall0),
    }
    json.dump(report, sys.stdout)
    print()
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="compare our exported outputs and gradients with this implementation")
    check.add_argument("dir")
    check.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    check.add_argument("--threads", type=int, default=2)
    timing = sub.add_parser("time", help="time training steps")
    timing.add_argument("dir")
    timing.add_argument("--steps", type=int, default=7)
    timing.add_argument("--warmup", type=int, default=2)
    timing.add_argument("--threads", type=int, default=2)
    timing.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    return command_check(args) if args.command == "check" else command_time(args)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ValueError, TypeError, OSError, KeyError) as e:
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
