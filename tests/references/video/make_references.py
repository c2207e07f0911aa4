#!/usr/bin/python3
"""Generates the video front end's test references. Run once from the repository root with Debian's Python
(torch 1.13, torchvision 0.14, numpy; apt-get install python3-torch python3-torchvision) and ffmpeg:

    /usr/bin/python3 tests/references/video/make_references.py

Writes, next to this script:
  vgg16_keys.json        torchvision's vgg16 state_dict keys and shapes, and its parameter count
  tiny_vgg.dat           a VGG-16-shaped network at test size (torchvision's make_layers), converted by
                         tools/convert_vgg16.py --any-keys
  tiny_vgg_io.dat        inputs and that network's outputs (fc7 after ReLU, logits), same format
  dtypes.dat/.json       a state_dict of every dtype the converter writes, and the expected values
  testsrc.mp4            2 s of ffmpeg's testsrc, 64x48 at 25 fps, lossless RGB H.264 (libx264rgb)
  testsrc_fps5_32x24.rgb the same source decoded straight from lavfi (no mp4) at 5 fps, 32x24, rgb24
  red.mp4                1 s of solid red (255, 0, 0), 32x32 at 10 fps, lossless RGB H.264
  tone.wav               0.2 s of a 440 Hz tone: a file with no video stream
"""
import collections
import json
import os
import subprocess
import sys

import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import convert_vgg16  # noqa: E402

TINY_WIDTHS = [4, 8, 8, 8, 8]
TINY_HIDDEN = 16
TINY_CLASSES = 10


def out(name):
    return os.path.join(HERE, name)


def vgg16_keys():
    torch.manual_seed(0)
    model = torchvision.models.vgg16(weights=None)
    state = model.state_dict()
    keys = [{"key": k, "shape": list(v.shape)} for k, v in state.items()]
    assert collections.OrderedDict((k["key"], tuple(k["shape"])) for k in keys) == convert_vgg16.vgg16_shapes(), "converter's key list"
    params = sum(v.numel() for v in state.values())
    with open(out("vgg16_keys.json"), "w") as f:
        json.dump({"source": f"torchvision {torchvision.__version__} models.vgg16()", "parameters": params, "keys": keys}, f, indent=1)
    print("vgg16:", len(keys), "tensors,", params, "parameters")


def tiny_vgg():
    torch.manual_seed(1)
    cfg = []
    for width, convs in zip(TINY_WIDTHS, [2, 2, 3, 3, 3]):
        cfg += [width] * convs + ["M"]
    model = torch.nn.Module()
    model.features = torchvision.models.vgg.make_layers(cfg)
    model.avgpool = torch.nn.AdaptiveAvgPool2d((7, 7))
    model.classifier = torch.nn.Sequential(
        torch.nn.Linear(TINY_WIDTHS[-1] * 7 * 7, TINY_HIDDEN),
        torch.nn.ReLU(True),
        torch.nn.Dropout(),
        torch.nn.Linear(TINY_HIDDEN, TINY_HIDDEN),
        torch.nn.ReLU(True),
        torch.nn.Dropout(),
        torch.nn.Linear(TINY_HIDDEN, TINY_CLASSES),
    )
    model.eval()
    # Larger weights than the default init, so that activations do not die out across 16 layers.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight"):
                p.mul_(2.0)
    torch.save(model.state_dict(), "/tmp/tiny_vgg.pth")
    convert_vgg16.main(["--any-keys", "/tmp/tiny_vgg.pth", out("tiny_vgg.dat")])
    os.remove("/tmp/tiny_vgg.pth")

    def run(x):
        with torch.no_grad():
            h = torch.flatten(model.avgpool(model.features(x)), 1)
            fc7 = model.classifier[:5](h)
            logits = model.classifier(h)
        return fc7, logits

    # Two shapes: 32x40 pools to 1x1 (the adaptive pool repeats it), 64x48 to 2x1 (uneven adaptive windows).
    io = collections.OrderedDict()
    for name, shape in [("a", (2, 3, 32, 40)), ("b", (1, 3, 64, 48))]:
        x = torch.randn(shape)
        fc7, logits = run(x)
        assert (fc7 > 0).float().mean() > 0.2, "activations alive"
        io[f"input_{name}"], io[f"fc7_{name}"], io[f"logits_{name}"] = x, fc7, logits
    convert_vgg16.write_state_dict(io, out("tiny_vgg_io.dat"))


def dtypes():
    state = collections.OrderedDict()
    state["f32"] = torch.tensor([[1.5, -2.25, 3.0e-8], [1.0e30, -0.0, 7.0]], dtype=torch.float32)
    state["f64"] = torch.tensor([1.0 / 3.0, -1e-300, 2.0**60, 0.1], dtype=torch.float64)
    state["f16"] = torch.tensor([0.5, -65504.0, 6.1e-5], dtype=torch.float16)
    state["bf16"] = torch.tensor([[1.0, -3.0e38], [0.0078125, 2.5]], dtype=torch.bfloat16)
    state["i64"] = torch.tensor([[-(2**40), 2**52], [-1, 0]], dtype=torch.int64)
    state["i32"] = torch.tensor([-(2**31), 2**31 - 1, 5], dtype=torch.int32)
    state["i16"] = torch.tensor([-32768, 32767], dtype=torch.int16)
    state["i8"] = torch.tensor([-128, 127, -1], dtype=torch.int8)
    state["u8"] = torch.tensor([[0, 255], [128, 7]], dtype=torch.uint8)
    state["flags"] = torch.tensor([True, False, True, True, False], dtype=torch.bool)
    state["scalar"] = torch.tensor(2.75, dtype=torch.float32)
    state["empty"] = torch.zeros((0, 3), dtype=torch.float32)
    state["größe"] = torch.arange(200, dtype=torch.float32).reshape(10, 20)  # non-ASCII key; 200 > 127 values
    convert_vgg16.write_state_dict(state, out("dtypes.dat"))
    expected = collections.OrderedDict(
        (k, {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape), "values": v.double().flatten().tolist() if v.is_floating_point() else v.long().flatten().tolist()})
        for k, v in state.items()
    )
    with open(out("dtypes.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def media():
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=2", "-c:v", "libx264rgb", "-qp", "0", "-preset", "veryslow", "-bitexact", "-map_metadata", "-1", out("testsrc.mp4"))
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=2",
                          "-vf", "fps=5,scale=32:24", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    with open(out("testsrc_fps5_32x24.rgb"), "wb") as f:
        f.write(raw)
    print("testsrc at 5 fps:", len(raw) // (32 * 24 * 3), "frames")
    ffmpeg("-f", "lavfi", "-i", "color=c=0xFF0000:size=32x32:rate=10:duration=1,format=rgb24", "-c:v", "libx264rgb", "-qp", "0",
           "-bitexact", "-map_metadata", "-1", out("red.mp4"))
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=0.2", "-ar", "8000", "-ac", "1", "-bitexact", out("tone.wav"))


if __name__ == "__main__":
    os.chdir(ROOT)
    vgg16_keys()
    tiny_vgg()
    dtypes()
    media()
    for name in sorted(os.listdir(HERE)):
        print(f"{os.path.getsize(out(name)):>8}  {name}")
