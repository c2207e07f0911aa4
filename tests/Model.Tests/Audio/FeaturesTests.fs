module Research.Model.Tests.Audio.FeaturesTests

open System.IO
open Expecto
open Research.Model.Data
open Research.Model.Tests.Audio.References

[<Tests>]
let tests =
    testList
        "Audio.Features"
        [
            test "lfbe writes (frames, 40), or (frames / 5, 200) stacked, as torchaudio's frame count says" {
                withTempDir (fun dir ->
                    let frames = Array2D.length1 (reference "utt1.fbank.npy")
                    let out = Path.Combine(dir, "sub", "utt1.npy")
                    Expect.equal (Research.Commands.Features.main [| "lfbe"; "--wav"; file "utt1.wav"; "--out"; out |]) 0 "exit code"
                    let plain = Npy.ReadMatrix out
                    Expect.equal (Array2D.length1 plain, Array2D.length2 plain) (frames, 40) "shape"
                    Expect.isLessThan (maxAbsDiff plain (reference "utt1.fbank.npy")) 1e-3 "the fbank"

                    let code =
                        Research.Commands.Features.main
                            [|
                                "lfbe"
                                "--wav"
                                file "utt1.wav"
                                "--out"
                                out
                                "--stack"
                                "5"
                                "--cmvn"
                                "utterance"
                            |]

                    Expect.equal code 0 "exit code"
                    let stacked = Npy.ReadMatrix out
                    Expect.equal (Array2D.length1 stacked, Array2D.length2 stacked) (frames / 5, 200) "stacked shape"
                    // Per-utterance CMVN before stacking: column 0 of the stack is frame 5i, bin 0; it was centred.
                    let column = [ for i in 0 .. frames / 5 - 1 -> float stacked[i, 0] ]
                    Expect.isLessThan (abs (List.average column)) 0.5 "roughly centred"
                    Expect.equal (Directory.GetFiles(Path.Combine(dir, "sub")).Length) 1 "one file, no temporaries")
            }

            test "a missing input is an error naming the path; bad flags are usage errors" {
                let missing = Path.Combine(repoRoot, "missing.wav")

                Expect.throwsC
                    (fun () ->
                        Research.Commands.Features.main [| "lfbe"; "--wav"; missing; "--out"; "x.npy" |]
                        |> ignore)
                    (fun e ->
                        Expect.isTrue (e :? FileNotFoundException) "FileNotFoundException"
                        Expect.stringContains e.Message missing "names the path")

                for argv in
                    [
                        [| "lfbe"; "--out"; "x.npy" |]
                        [| "lfbe"; "--wav"; "a.wav"; "--out"; "x.npy"; "--cmvn"; "global" |]
                        [| "lfbe"; "--wav"; "a.wav"; "--out"; "x.npy"; "--stack"; "0" |]
                        [| "mfcc" |]
                    ] do
                    Expect.throwsC (fun () -> Research.Commands.Features.main argv |> ignore) (fun e ->
                        Expect.isTrue (e :? Research.Commands.Cli.UsageError) $"""usage error for {String.concat " " argv}""")
            }
        ]
