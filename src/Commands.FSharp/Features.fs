/// `scripts/features.fsx`: audio features of one file (40 log mel filter-bank energies), written as float32 .npy.
module Research.Commands.Features

open Research.Experiments
open Research.Commands.Cli

/// What `features` accepts.
let usage =
    {
        Script = "scripts/features.fsx"
        Synopsis = "lfbe --wav IN --out OUT.npy [flags]"
        Summary = "lfbe: 40 log mel filter-bank energies every 10 ms (Kaldi's fbank), optionally normalised and stacked, as float32 .npy."
        Flags =
            [
                flag "wav" "IN" "required" "WAV (read in C#) or anything ffmpeg reads; resampled to 16 kHz"
                flag "out" "OUT.npy" "required" "float32 (frames, 40), or (frames / K, 40 K) with --stack K"
                flag "stack" "K" "1" "frames stacked per row (the paper: 5, i.e. 200-d every 50 ms)"
                flag "cmvn" "none|utterance" "none" "per-utterance mean and variance normalisation, before stacking"
            ]
        Examples =
            [
                "dotnet fsi scripts/features.fsx lfbe --wav utt1.wav --out utt1.npy"
                "dotnet fsi scripts/features.fsx lfbe --wav talk.m4a --out talk.npy --stack 5 --cmvn utterance"
            ]
        Notes = []
    }

/// Entry point: `lfbe --wav IN --out OUT.npy [--stack K] [--cmvn none|utterance]`; returns the exit code.
let main (argv: string array) : int =
    match List.ofArray argv with
    | "lfbe" :: rest ->
        let f = parseUsage usage (Array.ofList rest)

        let s: Features.LfbeSettings =
            {
                Wav = f.Required "wav"
                Out = f.Required "out"
                Stack = f.Int("stack", 1)
                Cmvn = f.Get("cmvn", "none")
            }

        if s.Stack < 1 then
            raise (UsageError $"--stack must be at least 1, got {s.Stack}")

        if s.Cmvn <> "none" && s.Cmvn <> "utterance" then
            raise (UsageError $"--cmvn: unknown '{s.Cmvn}' (none or utterance)")

        let features = Features.write s
        printfn "wrote %s: float32 (%d, %d)" s.Out (Array2D.length1 features) (Array2D.length2 features)
        0
    | [] -> raise (UsageError "missing command (lfbe)")
    | other :: _ -> raise (UsageError $"unknown command '{other}' (lfbe)")
