#!/usr/bin/python3
"""The late-fusion BiGRU baseline's PyTorch reference for tests/Model.Tests/PyTorchReferenceTests.fs. Run once from
anywhere with Debian's Python (python3-torch 1.13, numpy):

    /usr/bin/python3 tests/references/pytorch/make_late_fusion_references.py

It writes the folder late-fusion/ next to this script:
  config.json   the model configuration (LateFusionConfig's property names)
  weights.dat   every parameter of benchmarks/pytorch/late_fusion_reference.py (PyTorch's own initialisation from a
                fixed seed), named as our modules name them
  batch.dat     four items whose lengths differ in every modality (one of length 1, one filling the batch), padded
                positions filled with large garbage (an implementation that reads padding sees it), emotions and
                the loss's positive-class weights
  expected.dat  what the reference computes from them in eval mode, in float64 (stored in float64): each modality's
                summary, the emotion logits, the loss and every parameter gradient
All files are TorchSharp's Module.save format. The tests load the weights into our LateFusionModel, run it in float64
and compare.
"""
import collections
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "benchmarks", "pytorch"))
import late_fusion_reference as late  # noqa: E402
import reference_model as ref  # noqa: E402  (the tensor-file writer)

CONFIG = {"AudioDim": 5, "VideoDim": 7, "TextDim": 4, "Hidden": 6, "Layers": 2, "FusionDim": 5, "Emotions": 6,
          "Dropout": 0.1}

# Valid steps per item: audio, video, words. Every modality's longest item is a different one.
LENGTHS = [(9, 2, 1), (3, 6, 4), (1, 4, 5), (6, 1, 2)]


def sequence(lengths, dim, generator):
    t = max(lengths)
    features = torch.randn(len(lengths), t, dim, generator=generator)
    padding = torch.arange(t)[None, :] >= torch.tensor(lengths)[:, None]
    garbage = 100.0 * torch.randn(len(lengths), t, dim, generator=generator)
    return torch.where(padding[..., None], garbage, features), padding


def main():
    folder = os.path.join(HERE, "late-fusion")
    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(2024)
    model = late.LateFusion(CONFIG)
    generator = torch.Generator().manual_seed(16)
    batch = collections.OrderedDict()
    dims = {"audio": CONFIG["AudioDim"], "video": CONFIG["VideoDim"], "text": CONFIG["TextDim"]}
    for index, m in enumerate(late.MODALITIES):
        batch[f"{m}.features"], batch[f"{m}.padding"] = sequence([x[index] for x in LENGTHS], dims[m], generator)
    batch["emotions"] = (torch.rand(len(LENGTHS), CONFIG["Emotions"], generator=generator) < 0.4).float()
    batch["emotion_pos_weight"] = 0.5 + 3.0 * torch.rand(CONFIG["Emotions"], generator=generator)
    params = collections.OrderedDict((k, p.detach().clone()) for k, p in model.named_parameters())
    wide = model.double()
    expected = late.evaluate(wide, {k: (v.double() if v.is_floating_point() else v) for k, v in batch.items()})
    assert all(torch.isfinite(v).all() for v in expected.values()), "finite references"
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=1)
    ref.write_tensors(params, os.path.join(folder, "weights.dat"))
    ref.write_tensors(batch, os.path.join(folder, "batch.dat"))
    ref.write_tensors(collections.OrderedDict(expected), os.path.join(folder, "expected.dat"))
    print(f"late-fusion: {len(params)} parameter tensors, {sum(v.numel() for v in params.values())} values; "
          f"loss {float(expected['loss.emotion']):.6f}")


if __name__ == "__main__":
    main()
