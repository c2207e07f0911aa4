module Research.Model.Tests.Audio.FeatureStackingTests

open System
open Expecto
open Research.Model.Audio

/// Frames whose values encode (frame, dim): 100 · t + d.
let private frames t d =
    Array2D.init t d (fun i j -> float32 (100 * i + j))

[<Tests>]
let tests =
    testList
        "Audio.FeatureStacking"
        [
            test "k = 5 turns T x 40 into floor(T / 5) x 200, dropping the remainder" {
                for t in [ 5; 9; 10; 281 ] do
                    let s = FeatureStacking.Stack(frames t 40, 5)
                    Expect.equal (Array2D.length1 s) (t / 5) $"{t} frames: rows"
                    Expect.equal (Array2D.length2 s) 200 $"{t} frames: columns"
            }

            test "row i is frames i*k .. i*k + k - 1 concatenated in order" {
                let k, d = 3, 4
                let s = FeatureStacking.Stack(frames 7 d, k)

                for i in 0 .. Array2D.length1 s - 1 do
                    for j in 0 .. k * d - 1 do
                        Expect.equal s[i, j] (float32 (100 * (i * k + j / d) + j % d)) $"row {i}, column {j}"
            }

            test "k = 1 is the identity" {
                let f = frames 6 3
                Expect.equal (FeatureStacking.Stack(f, 1)) f "same"
            }

            test "fewer frames than k is an error naming the item; k < 1 is an error" {
                Expect.throwsC (fun () -> FeatureStacking.Stack(frames 4 40, 5, "utt-9") |> ignore) (fun e ->
                    Expect.isTrue (e :? ArgumentException) "ArgumentException"
                    Expect.stringContains e.Message "utt-9: 4 frames cannot be stacked 5 at a time" "message")

                Expect.throwsT<ArgumentOutOfRangeException> (fun () -> FeatureStacking.Stack(frames 4 40, 0) |> ignore) "k = 0"
            }
        ]
