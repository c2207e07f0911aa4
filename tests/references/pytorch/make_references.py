#!/usr/bin/python3
"""The multi-task model's PyTorch references for tests/Model.Tests/PyTorchReferenceTests.fs. Run once from anywhere
with Debian's Python (python3-torch 1.13, numpy):

    /usr/bin/python3 tests/references/pytorch/make_references.py

For each case below it writes a folder next to this script:
  config.json   the model configuration (ModelConfig's property names)
  weights.dat   every parameter, named as our modules name them, initialised here (LayerNorms and the Embedding's
                padding row perturbed, so that no two parameters are interchangeable)
  batch.dat     a batch: items of different lengths in every modality, padded positions filled with large garbage
                (an implementation that does not mask padding sees it), ASR input/target, speakers, emotions and
                the emotion loss's positive-class weights
  expected.dat  what benchmarks/pytorch/reference_model.py computes from them in eval mode, in float64 (stored in
                float64, so that the test can run our model in float64 and compare far below float32 rounding):
                every output, loss term and parameter gradient
All files are TorchSharp's Module.save format. The tests load the weights into our MultiTaskModel and compare.
"""
import collections
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "benchmarks", "pytorch"))
import reference_model as ref  # noqa: E402

SOS, EOS, FIRST_CHARACTER = 1, 2, 4  # CharVocabulary

BASE = {
    "AudioDim": 6, "VideoDim": 10, "TextDim": 5, "DModel": 8, "Heads": 2, "FeedForward": 12,
    "AudioLayers": 2, "CrossModalLayers": 2, "DecoderLayers": 2, "VocabSize": 32, "Speakers": 5, "Emotions": 6,
    "Dropout": 0.1, "LabelSmoothing": 0.1,
}

CASES = {
    # every module: three streams with the pre-training weights, all three heads
    "full": dict(BASE, Modalities={"Audio": 0.4, "Video": 0.4, "Text": 0.2}, Tasks={"Asr": 0.8, "Speaker": 0.2, "Emotion": 1.0}),
    # a modality with weight 0 has no branch and no input; emotion only with two streams
    "no-video": dict(BASE, Modalities={"Audio": 0.5, "Video": 0.0, "Text": 0.5}, Tasks={"Asr": 0.0, "Speaker": 0.3, "Emotion": 1.0}),
}

# Valid steps per item: audio, video, words, characters; every modality padded differently.
LENGTHS = [(7, 9, 3, 5), (5, 4, 2, 3), (6, 6, 4, 6)]


def sequence(lengths, dim, generator):
    t = max(lengths)
    features = torch.randn(len(lengths), t, dim, generator=generator)
    padding = torch.arange(t)[None, :] >= torch.tensor(lengths)[:, None]
    garbage = 100.0 * torch.randn(len(lengths), t, dim, generator=generator)
    return torch.where(padding[..., None], garbage, features), padding


def batch(c, generator):
    b = collections.OrderedDict()
    audio, video, words, chars = zip(*LENGTHS)
    b["audio.features"], b["audio.padding"] = sequence(audio, c.AudioDim, generator)
    if c.modalities["video"] > 0:
        b["video.features"], b["video.padding"] = sequence(video, c.VideoDim, generator)
    if c.modalities["text"] > 0:
        b["text.features"], b["text.padding"] = sequence(words, c.TextDim, generator)
    if c.tasks["asr"] > 0:
        width = max(chars) + 1
        asr_in = torch.zeros(len(chars), width, dtype=torch.int64)
        asr_out = torch.zeros(len(chars), width, dtype=torch.int64)
        for i, n in enumerate(chars):
            text = torch.randint(FIRST_CHARACTER, c.VocabSize, (n,), generator=generator)
            asr_in[i, 0] = SOS
            asr_in[i, 1:n + 1] = text
            asr_out[i, :n] = text
            asr_out[i, n] = EOS
        b["asr.input"], b["asr.target"] = asr_in, asr_out
    b["speakers"] = torch.randint(0, c.Speakers, (len(LENGTHS),), generator=generator)
    b["emotions"] = (torch.rand(len(LENGTHS), c.Emotions, generator=generator) < 0.4).float()
    b["emotion_pos_weight"] = 0.5 + 3.0 * torch.rand(c.Emotions, generator=generator)
    return b


def main():
    for index, (name, values) in enumerate(CASES.items()):
        folder = os.path.join(HERE, name)
        os.makedirs(folder, exist_ok=True)
        c = ref.Config(values, name)
        generator = torch.Generator().manual_seed(100 + index)
        params = ref.init_parameters(c, generator, perturb_norms=True)
        data = batch(c, generator)
        expected = ref.evaluate(c, params, data, torch.float64)
        assert all(torch.isfinite(v).all() for v in expected.values()), "finite references"
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(values, f, indent=1)
        ref.write_tensors(params, os.path.join(folder, "weights.dat"))
        ref.write_tensors(data, os.path.join(folder, "batch.dat"))
        ref.write_tensors(expected, os.path.join(folder, "expected.dat"))
        losses = {k: round(float(v), 6) for k, v in expected.items() if k.startswith("loss.")}
        print(f"{name}: {len(params)} parameters tensors, {sum(v.numel() for v in params.values())} values; {losses}")


if __name__ == "__main__":
    main()
