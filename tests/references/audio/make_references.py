#!/usr/bin/python3
"""Reference audio and values for the audio front-end tests (tests/Model.Tests/Audio, Data).

Run once with Debian's Python (python3-torchaudio 0.13.1, python3-numpy), from anywhere:

    /usr/bin/python3 tests/references/audio/make_references.py

Needs espeak-ng, sox and ffmpeg. Writes into this folder:
  utt{1,2,3}.wav             three espeak-ng utterances (different voices), 16 kHz 16-bit mono, <= 3 s
  utt{1,2,3}.fbank.npy       torchaudio.compliance.kaldi.fbank(num_mel_bins=40, dither=0, energy_floor=0) on them
  utt{1,2,3}.fbank64.npy     the same computed in float64 (saved as float32): torchaudio's float32 FFT is off by up
                             to ~1e-3 in quiet low bins, so this one checks an implementation more tightly
  utt1.opts-*.fbank.npy      the same with non-default options (listed in OPTION_SETS, also in options.json)
  clip.*                     the first 0.5 s of utt1 in other encodings (sox / ffmpeg)
  npy/*.npy                  fixtures written by numpy (values listed in npy/fixtures.json)
The tests never run Python: they read these files.
"""
import json
import os
import subprocess
import tempfile
import wave

import numpy as np
import torch
import torchaudio.compliance.kaldi as kaldi

HERE = os.path.dirname(os.path.abspath(__file__))

UTTERANCES = [
    ("utt1", "en-us+m3", "The quick brown fox jumps over the lazy dog."),
    ("utt2", "en-gb+f3", "She sells sea shells by the sea shore, surely."),
    ("utt3", "en-gb-scotland+m5", "Emotions are hard to hear in a flat voice."),
]

# Non-default options, each checked against torchaudio on utt1 (FbankOptions names on the C# side).
OPTION_SETS = {
    # energy column, hamming window, reflected edges, magnitude spectrum, band limits, no DC removal
    "a": dict(
        num_mel_bins=23,
        window_type="hamming",
        snip_edges=False,
        use_power=False,
        use_energy=True,
        energy_floor=1.0,
        low_freq=60.0,
        high_freq=-400.0,
        remove_dc_offset=False,
        preemphasis_coefficient=0.9,
    ),
    # FFT of the window's own length (400, not a power of two), blackman window, 30 ms / 15 ms frames
    "b": dict(
        num_mel_bins=64,
        window_type="blackman",
        round_to_power_of_two=False,
        frame_length=30.0,
        frame_shift=15.0,
        high_freq=7000.0,
        use_energy=True,
        raw_energy=False,
        energy_floor=0.0,
    ),
    # linear (not log) filter-bank energies, hanning window
    "c": dict(num_mel_bins=40, window_type="hanning", use_log_fbank=False),
}


def run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def read_wav_int16(path):
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, path
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return data.astype(np.float32), w.getframerate()


def fbank(samples, rate, dtype=np.float32, **options):
    """Kaldi fbank on int16-scale samples (what our loader returns), computed in dtype, returned as float32."""
    wave_ = torch.from_numpy(samples.astype(dtype)).unsqueeze(0)
    base = dict(num_mel_bins=40, dither=0.0, energy_floor=0.0, sample_frequency=float(rate))
    base.update(options)
    return kaldi.fbank(wave_, **base).numpy().astype(np.float32)


def make_utterances(tmp):
    for name, voice, text in UTTERANCES:
        raw = os.path.join(tmp, name + ".raw.wav")
        out = os.path.join(HERE, name + ".wav")
        run("espeak-ng", "-v", voice, "-w", raw, text)
        # -R: repeatable dither; 16 kHz, 16-bit, mono
        run("sox", "-R", raw, "-r", "16000", "-b", "16", "-c", "1", out)
        samples, rate = read_wav_int16(out)
        assert rate == 16000 and len(samples) <= 3 * rate, f"{name}: {len(samples) / rate:.2f} s, want <= 3 s"
        np.save(os.path.join(HERE, name + ".fbank.npy"), fbank(samples, rate))
        np.save(os.path.join(HERE, name + ".fbank64.npy"), fbank(samples, rate, dtype=np.float64))
        print(f"{name}: {voice}, {len(samples) / rate:.2f} s")

    samples, rate = read_wav_int16(os.path.join(HERE, "utt1.wav"))
    for key, options in OPTION_SETS.items():
        np.save(os.path.join(HERE, f"utt1.opts-{key}.fbank.npy"), fbank(samples, rate, **options))
    with open(os.path.join(HERE, "options.json"), "w") as f:
        json.dump(OPTION_SETS, f, indent=2)
        f.write("\n")


def make_clip_variants():
    utt1 = os.path.join(HERE, "utt1.wav")
    clip = os.path.join(HERE, "clip.wav")

    def sox(out, *effects_and_format):
        run("sox", "-R", "-D", clip, *effects_and_format[:-1], os.path.join(HERE, out), *effects_and_format[-1:])

    # 0.5 s from 0.3 s on (speech, not the leading silence)
    run("sox", "-R", "-D", utt1, clip, "trim", "0.3", "0.5")
    run("sox", "-R", "-D", clip, "-b", "8", "-e", "unsigned-integer", os.path.join(HERE, "clip.u8.wav"))
    run("sox", "-R", "-D", clip, "-b", "24", "-e", "signed-integer", os.path.join(HERE, "clip.s24.wav"))
    run("sox", "-R", "-D", clip, "-b", "32", "-e", "signed-integer", os.path.join(HERE, "clip.s32.wav"))
    run("sox", "-R", "-D", clip, "-b", "32", "-e", "floating-point", os.path.join(HERE, "clip.f32.wav"))
    run("sox", "-R", "-D", clip, "-b", "64", "-e", "floating-point", os.path.join(HERE, "clip.f64.wav"))
    run("sox", "-R", "-D", clip, "-r", "8000", os.path.join(HERE, "clip.8k.wav"))
    # stereo: left = clip, right = clip reversed in time, so the mono average is known sample by sample
    with tempfile.TemporaryDirectory() as tmp:
        rev = os.path.join(tmp, "rev.wav")
        run("sox", "-R", "-D", clip, rev, "reverse")
        run("sox", "-R", "-D", "-M", clip, rev, os.path.join(HERE, "clip.stereo.wav"))
    for out, codec in [("clip.m4a", ["-c:a", "aac", "-b:a", "96k"]), ("clip.flac", ["-c:a", "flac"])]:
        run("ffmpeg", "-nostdin", "-v", "error", "-y", "-i", clip, *codec, "-map_metadata", "-1",
            "-fflags", "+bitexact", "-flags:a", "+bitexact", os.path.join(HERE, out))


def make_npy_fixtures():
    folder = os.path.join(HERE, "npy")
    os.makedirs(folder, exist_ok=True)
    m = (np.arange(12, dtype=np.float64).reshape(3, 4) * 0.5 - 1.25)
    np.save(os.path.join(folder, "f4_3x4.npy"), m.astype("<f4"))
    np.save(os.path.join(folder, "f8_3x4.npy"), m.astype("<f8"))
    np.save(os.path.join(folder, "f4_5.npy"), np.array([1.5, -2.0, 3.25, 1e-8, 6.0e20], dtype="<f4"))
    np.save(os.path.join(folder, "f8_5.npy"), np.array([1.5, -2.0, 3.25, 1e-8, 6.0e20], dtype="<f8"))
    np.save(os.path.join(folder, "f4_0x3.npy"), np.zeros((0, 3), dtype="<f4"))
    with open(os.path.join(folder, "f4_3x4.v2.npy"), "wb") as f:
        np.lib.format.write_array(f, m.astype("<f4"), version=(2, 0))
    np.save(os.path.join(folder, "f4_3x4.fortran.npy"), np.asfortranarray(m.astype("<f4")))
    np.save(os.path.join(folder, "i4_3x4.npy"), np.arange(12, dtype="<i4").reshape(3, 4))
    np.save(os.path.join(folder, "f4_3x4.bigendian.npy"), m.astype(">f4"))
    np.save(os.path.join(folder, "f4_2x2x2.npy"), np.zeros((2, 2, 2), dtype="<f4"))
    with open(os.path.join(folder, "fixtures.json"), "w") as f:
        json.dump({"3x4": m.tolist(), "5": [1.5, -2.0, 3.25, 1e-8, 6.0e20]}, f, indent=2)
        f.write("\n")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        make_utterances(tmp)
    make_clip_variants()
    make_npy_fixtures()
    total = 0
    for root, _, files in os.walk(HERE):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    print(f"total {total / 1024:.0f} KB in {HERE}")


if __name__ == "__main__":
    main()
