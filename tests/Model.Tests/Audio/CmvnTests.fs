module Research.Model.Tests.Audio.CmvnTests

open System
open System.IO
open Expecto
open Research.Model.Audio
open Research.Model.Tests.Audio.References

/// Random features with column d ~ N(d, (d + 1)^2) and a constant last column.
let private features (seed: int) (t: int) (dim: int) =
    let rng = Random seed

    Array2D.init t dim (fun _ d ->
        if d = dim - 1 then
            7.5f
        else
            float32 (float d + float (d + 1) * (rng.NextDouble() * 2.0 - 1.0) * sqrt 3.0))

let private columnStats (m: float32[,]) d =
    let xs = [| for i in 0 .. Array2D.length1 m - 1 -> float m[i, d] |]
    let mean = Array.average xs
    mean, (xs |> Array.averageBy (fun x -> (x - mean) ** 2.0))

let private concat (a: float32[,]) (b: float32[,]) =
    Array2D.init (Array2D.length1 a + Array2D.length1 b) (Array2D.length2 a) (fun i d ->
        if i < Array2D.length1 a then
            a[i, d]
        else
            b[i - Array2D.length1 a, d])

[<Tests>]
let tests =
    testList
        "Audio.Cmvn"
        [
            test "per utterance: every column gets mean 0 and variance 1; a constant column becomes 0, not NaN" {
                let x = features 1 300 6
                let y = Cmvn.PerUtterance x

                for d in 0..4 do
                    let mean, variance = columnStats y d
                    Expect.floatClose Accuracy.medium (mean + 1.0) 1.0 $"column {d} mean"
                    Expect.floatClose Accuracy.medium variance 1.0 $"column {d} variance"

                Expect.all [ for i in 0..299 -> y[i, 5] ] (fun v -> v = 0.0f) "constant column centred, not divided"
            }

            test "global statistics over two utterances equal those of their concatenation" {
                let a, b = features 2 120 5, features 3 77 5
                let stats = CmvnStats 5
                stats.Add a
                stats.Add b
                Expect.equal stats.Count 197L "frames"
                let whole = concat a b

                for d in 0..4 do
                    let mean, variance = columnStats whole d
                    Expect.floatClose Accuracy.high stats.Mean[d] mean $"mean {d}"
                    Expect.floatClose Accuracy.high stats.Variance[d] variance $"variance {d}"

                Expect.isLessThan (maxAbsDiff (stats.Apply whole) (Cmvn.PerUtterance whole)) 1e-5 "apply = per-utterance"
            }

            test "save and load give the same statistics and the same normalised features; no temporary file is left" {
                withTempDir (fun dir ->
                    let stats = CmvnStats 4
                    stats.Add(features 4 50 4)
                    let path = Path.Combine(dir, "cmvn.json")
                    stats.Save path
                    stats.Save path // replaces
                    let loaded = CmvnStats.Load path
                    Expect.equal loaded.Count stats.Count "count"
                    Expect.equal loaded.Mean stats.Mean "mean exactly"
                    Expect.sequenceEqual (Array.map float32 loaded.Variance) (Array.map float32 stats.Variance) "variance"
                    let x = features 5 10 4
                    Expect.isLessThan (maxAbsDiff (loaded.Apply x) (stats.Apply x)) 1e-6 "same normalisation"
                    Expect.equal (Directory.GetFiles dir |> Array.map Path.GetFileName) [| "cmvn.json" |] "only the file")
            }

            test "dimension mismatch, empty statistics and bad files are errors naming the item or file" {
                let stats = CmvnStats 4
                Expect.throwsT<InvalidOperationException> (fun () -> stats.Apply(features 1 3 4) |> ignore) "empty"
                stats.Add(features 1 3 4)

                Expect.throwsC (fun () -> stats.Apply(features 1 3 5, "utt-3") |> ignore) (fun e ->
                    Expect.stringContains e.Message "utt-3: frames have 5 columns, the CMVN statistics 4" "message")

                withTempDir (fun dir ->
                    for name, text, fragment in
                        [
                            "broken.json", "{", "not valid JSON"
                            "other.json", """{"format": "x"}""", "cmvn-stats/1"
                            "short.json",
                            """{"format": "cmvn-stats/1", "dim": 2, "count": 3, "mean": [1], "variance": [1, 1]}""",
                            "\"mean\" has 1"
                            "negative.json",
                            """{"format": "cmvn-stats/1", "dim": 1, "count": 3, "mean": [1], "variance": [-1]}""",
                            "variance"
                        ] do
                        let path = Path.Combine(dir, name)
                        File.WriteAllText(path, text)

                        Expect.throwsC (fun () -> CmvnStats.Load path |> ignore) (fun e ->
                            Expect.isTrue (e :? InvalidDataException) $"{name}: InvalidDataException"
                            Expect.stringContains e.Message path $"{name}: names the file"
                            Expect.stringContains e.Message fragment $"{name}: says what is wrong"))
            }
        ]
