/// Audio features of one file: 40 log mel filter-bank energies (LFBE), optionally normalised (per utterance, or by
/// global statistics such as a store's cmvn.json) and stacked, written as a float32 .npy (scripts/features.fsx; the benchmarks time the same front end).
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
        /// "none", "utterance" or "global".
        Cmvn: string
        /// The cmvn-stats/1 file of "global" (e.g. STORE/cmvn.json of a store built with global CMVN); "" otherwise.
        Stats: string
    }

/// The features of one file: load at 16 kHz, Kaldi fbank (40 bins), CMVN if asked (per utterance, or the global
/// statistics of `s.Stats`, as a store built with global CMVN applied them), stacking.
let lfbe (s: LfbeSettings) : float32[,] =
    if s.Cmvn = "global" && s.Stats = "" then
        invalidSetting "--cmvn global needs --stats CMVN.json (e.g. STORE/cmvn.json of a store built with --cmvn global)"

    if s.Cmvn <> "global" && s.Stats <> "" then
        invalidSetting $"--stats {s.Stats} applies only with --cmvn global (got --cmvn {s.Cmvn})"

    let stats = if s.Stats = "" then None else Some(CmvnStats.Load s.Stats)

    let wave = AudioFile.Load(s.Wav, 16000)
    let frames = Fbank.Compute(wave.Samples, wave.SampleRate, item = s.Wav)

    let normalised =
        match s.Cmvn, stats with
        | "none", _ -> frames
        | "utterance", _ -> Cmvn.PerUtterance(frames, s.Wav)
        | "global", Some g -> g.Apply(frames, s.Wav)
        | other, _ -> invalidSetting $"--cmvn: unknown '{other}' (none, utterance or global)"

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
