/// Audio features from the command line: 40 log mel filter-bank energies (LFBE) of one file, optionally
/// normalised per utterance and stacked, written as a float32 .npy.
module Research.Experiments.Features

open System
open System.IO
open Research.Model.Audio
open Research.Model.Data

let usage =
    "usage: dotnet fsi scripts/features.fsx lfbe --wav IN --out OUT.npy [--stack K] [--cmvn none|utterance]\n"
    + "       IN: WAV (read in C#) or anything ffmpeg reads, resampled to 16 kHz; OUT: float32 (frames, 40),\n"
    + "       or (frames / K, 40 K) with --stack K (the paper: 5); --cmvn utterance normalises before stacking.\n"
    + "       (help: dotnet fsi scripts/features.fsx -- --help)"

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
        | other -> raise (Cli.UsageError $"--cmvn: unknown '{other}' (none or utterance)")

    if s.Stack = 1 then
        normalised
    else
        FeatureStacking.Stack(normalised, s.Stack, s.Wav)

let private required (f: Cli.Flags) (name: string) =
    match f.Values |> Map.tryFind name with
    | Some v -> v
    | None -> raise (Cli.UsageError $"--{name} is required")

/// Entry point: `lfbe --wav IN --out OUT.npy [--stack K] [--cmvn none|utterance]`; returns the exit code.
let main (argv: string array) : int =
    if Cli.wantsHelp argv then
        printfn "%s" usage
        0
    else
        match List.ofArray argv with
        | "lfbe" :: rest ->
            let f = Cli.parse [ "wav"; "out"; "stack"; "cmvn" ] (Array.ofList rest)

            let s =
                {
                    Wav = required f "wav"
                    Out = required f "out"
                    Stack = f.Int("stack", 1)
                    Cmvn = f.Get("cmvn", "none")
                }

            if s.Stack < 1 then
                raise (Cli.UsageError $"--stack must be at least 1, got {s.Stack}")

            if s.Cmvn <> "none" && s.Cmvn <> "utterance" then
                raise (Cli.UsageError $"--cmvn: unknown '{s.Cmvn}' (none or utterance)")

            let features = lfbe s
            let folder = Path.GetDirectoryName(Path.GetFullPath s.Out)
            Directory.CreateDirectory folder |> ignore
            Npy.Write(s.Out, features)
            printfn "wrote %s: float32 (%d, %d)" s.Out (Array2D.length1 features) (Array2D.length2 features)
            0
        | [] -> raise (Cli.UsageError "missing command (lfbe)")
        | other :: _ -> raise (Cli.UsageError $"unknown command '{other}' (lfbe)")
