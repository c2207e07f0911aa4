#!/usr/bin/python3
"""The torchaudio side of the LFBE benchmark (scripts/bench-lfbe.fsx runs it; Debian: python3-torchaudio).

Times torchaudio.compliance.kaldi.fbank(num_mel_bins=40, dither=0, energy_floor=0) on one thread over the given
16 kHz WAV files, cycled in order until at least --seconds of audio, the same sequence the C# side times.
Prints one JSON object: versions, audio seconds per run and the wall-clock seconds of each run.
"""
import argparse
import json
import time
import wave

import numpy as np
import torch
import torchaudio
import torchaudio.compliance.kaldi as kaldi


def load(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1 or w.getframerate() != 16000:
            raise SystemExit(f"{path}: expected 16 kHz 16-bit mono")
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32)
    # int16 scale, as the C# side gets from its WAV reader
    return torch.from_numpy(samples).unsqueeze(0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--repeats", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("wavs", nargs="+")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)

    waves = [load(p) for p in args.wavs]
    sequence, total = [], 0.0
    while total < args.seconds:
        w = waves[len(sequence) % len(waves)]
        sequence.append(w)
        total += w.shape[1] / 16000.0

    def run():
        start = time.perf_counter()
        for w in sequence:
            kaldi.fbank(w, num_mel_bins=40, dither=0.0, energy_floor=0.0, sample_frequency=16000.0)
        return time.perf_counter() - start

    with torch.inference_mode():
        for _ in range(args.warmup):
            run()
        runs = [run() for _ in range(args.repeats)]
    print(json.dumps({
        "torch": torch.__version__,
        "torchaudio": torchaudio.__version__,
        "threads": torch.get_num_threads(),
        "audio_seconds": total,
        "utterances": len(sequence),
        "run_seconds": runs,
    }))


if __name__ == "__main__":
    main()
