#!/usr/bin/python3
"""An independent PyTorch implementation of the late-fusion BiGRU baseline (src/Model.CSharp/Models/LateFusionModel.cs
with Modules/BiGruEncoder.cs), written from the paper's description (§4.1) for the reference files of
tests/references/pytorch/make_late_fusion_references.py. Runs with Debian's python3-torch 1.13.

  per modality  (B, T, d) ─ 2-layer bidirectional nn.GRU over the item's valid steps only (pack_padded_sequence,
                so padding is never read) → "the output from the last time step": the forward direction's output at
                the item's last valid step and the backward direction's output at step 0 (which has read the whole
                valid sequence) = (B, 2H), [forward; backward]
  fused         the modalities' summaries concatenated (audio, video, text) → Linear(·, FusionDim) → ReLU → dropout
                → Linear(FusionDim, Emotions) = emotion logits
  loss          binary cross-entropy with logits per emotion, with per-emotion positive-class weights, mean over
                items and emotions

The summary is read from the unpacked per-step outputs (pad_packed_sequence), not from the final hidden state, so
it does not share that bookkeeping with our implementation. Parameter names follow our module fields:
audio.gru.weight_ih_l0, ..., fusion.weight, output.bias.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

MODALITIES = ["audio", "video", "text"]


class Encoder(nn.Module):
    """One modality: a bidirectional GRU summarised at the last valid step (forward) and step 0 (backward)."""

    def __init__(self, input_dim, hidden, layers, dropout):
        super().__init__()
        self.hidden = hidden
        self.gru = nn.GRU(input_dim, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0,
                          bidirectional=True)

    def forward(self, features, padding):
        lengths = (~padding).sum(1)
        if not bool((torch.arange(padding.shape[1])[None, :] >= lengths[:, None]).eq(padding).all()):
            raise ValueError("padding must come after every item's valid steps")
        packed = pack_padded_sequence(features, lengths.cpu(), batch_first=True, enforce_sorted=False)
        output, _ = self.gru(packed)
        steps, _ = pad_packed_sequence(output, batch_first=True)  # (B, max length, 2H), zero after each item's end
        items = torch.arange(features.shape[0])
        forward = steps[items, lengths - 1, : self.hidden]
        backward = steps[:, 0, self.hidden:]
        return torch.cat([forward, backward], 1)


class LateFusion(nn.Module):
    """The baseline: one Encoder per modality, concatenated, a hidden layer with ReLU and the emotion logits."""

    def __init__(self, c):
        super().__init__()
        dims = {"audio": c["AudioDim"], "video": c["VideoDim"], "text": c["TextDim"]}
        for m in MODALITIES:
            setattr(self, m, Encoder(dims[m], c["Hidden"], c["Layers"], c["Dropout"]))
        self.fusion = nn.Linear(len(MODALITIES) * 2 * c["Hidden"], c["FusionDim"])
        self.dropout = nn.Dropout(c["Dropout"])
        self.output = nn.Linear(c["FusionDim"], c["Emotions"])

    def summaries(self, batch):
        return {m: getattr(self, m)(batch[f"{m}.features"], batch[f"{m}.padding"]) for m in MODALITIES}

    def forward(self, batch):
        s = self.summaries(batch)
        fused = torch.cat([s[m] for m in MODALITIES], 1)
        return self.output(self.dropout(F.relu(self.fusion(fused)))), s


def evaluate(model, batch):
    """Summaries, logits, loss and every parameter's gradient in eval mode (dropout off), in the model's dtype."""
    model.eval()
    model.zero_grad()
    logits, summaries = model(batch)
    loss = F.binary_cross_entropy_with_logits(logits, batch["emotions"], pos_weight=batch["emotion_pos_weight"])
    loss.backward()
    result = {f"output.{m}": s.detach() for m, s in summaries.items()}
    result["output.emotion_logits"] = logits.detach()
    result["loss.emotion"] = loss.detach().reshape(1)
    result.update((f"grad.{k}", p.grad.detach().clone()) for k, p in model.named_parameters())
    return result
