/// Audio features of one file: 40 log mel filter-bank energies (LFBE), optionally normalised per utterance and
/// stacked, written as a float32 .npy (scripts/features.fsx; the benchmarks time the same front end).
module Research.Experiments.Features

open System
open System.IO
open Research.Model.Audio
open Research.Model.Data
open Research.Experiments.Errors

/// What `lfbe` computes.
type LfbeSettings =
    {
        Wav: string
        Out: string
        /// Frames stacked per output row; 1 = none.
        Stack: int
        /// "none" or "utterance".
        Cmvn: string
    }

/// The features of one file: load at 16 kHz, Kaldi fbank (40 bins), per-utterance CMVN if asked, stacking.
let lfbe (s: LfbeSettings) : float32[,] =
    let wave = AudioFile.Load(s.Wav, 16000)
    let frames = Fbank.Compute(wave.Samples, wave.SampleRate, item = s.Wav)

    let normalised =
        match s.Cmvn with
        | "none" -> frames
        | "utterance" -> Cmvn.PerUtterance(frames, s.Wav)
        | other -> invalidSetting $"--cmvn: unknown '{other}' (none or utterance)"

    if s.Stack = 1 then
        normalised
    else
        FeatureStacking.Stack(normalised, s.Stack, s.Wav)

/// Computes the features of `s.Wav` and writes them to `s.Out` (float32 .npy, its folder created); returns them.
let write (s: LfbeSettings) : float32[,] =
    let features = lfbe s

    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath s.Out))
    |> ignore

    Npy.Write(s.Out, features)
    features
