#!/usr/bin/env python3
"""Convert torchvision's VGG-16 weights to TorchSharp's state-dict format, for Research.Model.Video.Vgg16.Load.

usage: python3 tools/convert_vgg16.py vgg16-397923af.pth vgg16.dat
       python3 tools/convert_vgg16.py --any-keys IN.pth OUT.dat   (any state_dict; no VGG-16 key check)

Needs only Python 3 with torch (any version that reads the .pth). The input may be a state_dict, a pickled
module, or a checkpoint dict holding one under "state_dict" or "model". Unless --any-keys, its keys and shapes
must be exactly those of torchvision's vgg16 (configuration D, 1000 classes).

Output format (TorchSharp's `Module.save`/`load`; all integers unsigned LEB128):
    count of entries
    per entry: key (UTF-8 byte length, then the bytes), dtype code (TorchSharp's ScalarType),
               rank, each dimension, then the raw little-endian element bytes in row-major order.
The file is written under a temporary name and renamed, so a failed run leaves no partial file.
"""
import argparse
import collections
import os
import sys

import torch

# TorchSharp's ScalarType codes (they follow c10::ScalarType).
DTYPE_CODES = {
    torch.uint8: 0,
    torch.int8: 1,
    torch.int16: 2,
    torch.int32: 3,
    torch.int64: 4,
    torch.float16: 5,
    torch.float32: 6,
    torch.float64: 7,
    torch.complex64: 9,
    torch.complex128: 10,
    torch.bool: 11,
    torch.bfloat16: 15,
}

# Same-width integer views used to get at the bytes of types numpy lacks.
BYTE_VIEWS = {torch.bfloat16: torch.int16, torch.bool: torch.uint8}


def vgg16_shapes():
    """Keys and shapes of torchvision's vgg16 state_dict, from configuration D."""
    shapes = collections.OrderedDict()
    index, channels = 0, 3
    for width, convs in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]:
        for _ in range(convs):
            shapes[f"features.{index}.weight"] = (width, channels, 3, 3)
            shapes[f"features.{index}.bias"] = (width,)
            index += 2  # conv, ReLU
            channels = width
        index += 1  # max pool
    for index, (fan_out, fan_in) in [(0, (4096, 512 * 7 * 7)), (3, (4096, 4096)), (6, (1000, 4096))]:
        shapes[f"classifier.{index}.weight"] = (fan_out, fan_in)
        shapes[f"classifier.{index}.bias"] = (fan_out,)
    return shapes


def leb128(value):
    if value < 0:
        raise ValueError(f"LEB128 here encodes non-negative integers only, got {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tensor_bytes(t):
    t = t.detach().cpu().contiguous()
    view = BYTE_VIEWS.get(t.dtype)
    if view is not None:
        t = t.view(view) if t.dtype != torch.bool else t.to(view)
    array = t.numpy()
    return array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()


def write_state_dict(state, path):
    """Writes `state` (key -> tensor, in order) to `path` in TorchSharp's format, atomically."""
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temp, "wb") as f:
            f.write(leb128(len(state)))
            for key, t in state.items():
                if not isinstance(t, torch.Tensor):
                    raise TypeError(f"entry '{key}' is a {type(t).__name__}, not a tensor")
                if t.dtype not in DTYPE_CODES:
                    raise TypeError(f"entry '{key}' has dtype {t.dtype}, which TorchSharp's format cannot hold")
                name = key.encode("utf-8")
                f.write(leb128(len(name)))
                f.write(name)
                f.write(leb128(DTYPE_CODES[t.dtype]))
                f.write(leb128(t.dim()))
                for d in t.shape:
                    f.write(leb128(d))
                f.write(tensor_bytes(t))
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def load_state_dict(path):
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # torch.load raises pickle, zip and runtime errors alike
        raise ValueError(f"{path}: torch.load cannot read it ({type(e).__name__}: {e}); expected torchvision's .pth weights") from e
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if isinstance(obj, dict):
        for inner in ("state_dict", "model"):
            if inner in obj and isinstance(obj[inner], dict):
                obj = obj[inner]
                break
        return collections.OrderedDict(obj)
    raise TypeError(f"{path}: holds a {type(obj).__name__}, expected a state_dict, a module or a checkpoint dict")


def check_vgg16(state, path):
    expected = vgg16_shapes()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} (expected {expected[k]})" for k in expected if k in state and tuple(state[k].shape) != expected[k]]
    problems = []
    if missing:
        problems.append("missing: " + ", ".join(missing))
    if unexpected:
        problems.append("unexpected: " + ", ".join(unexpected))
    if wrong:
        problems.append("wrong shape: " + ", ".join(wrong))
    if problems:
        raise ValueError(f"{path}: not torchvision's vgg16 state_dict ({'; '.join(problems)}); use --any-keys to convert anyway")
    # Our module lists its weights in the same order; write them in that order.
    return collections.OrderedDict((k, state[k].float() if state[k].is_floating_point() else state[k]) for k in expected)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input", help="torchvision weights (.pth), e.g. vgg16-397923af.pth")
    parser.add_argument("output", help="TorchSharp-format file to write, e.g. vgg16.dat")
    parser.add_argument("--any-keys", action="store_true", help="convert any state_dict as it is (no VGG-16 check)")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.input):
        parser.error(f"input not found: {args.input}")
    state = load_state_dict(args.input)
    if not args.any_keys:
        state = check_vgg16(state, args.input)
    write_state_dict(state, args.output)
    count = sum(t.numel() for t in state.values())
    print(f"{args.output}: {len(state)} tensors, {count} values")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ValueError, TypeError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
