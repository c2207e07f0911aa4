module Research.Model.Tests.Data.CsdWriterTests

open System
open System.IO
open Expecto
open Research.Model.Data
open Research.Model.Tests.Data.MoseiFixtures

/// Videos with awkward ids, -inf and NaN features, a zero-row video, touching and zero-length intervals.
let private videos () =
    let rng = Random 7

    [
        "-3g5yACwYnA", sequence [ 0.0, 0.5; 0.5, 1.0; 1.0, 1.0 ] 4 (fun _ _ -> float32 (rng.NextDouble() - 0.5))
        "with space [0]", sequence [ 0.25, 2.0 ] 4 (fun _ j -> if j = 1 then Single.NegativeInfinity else 1.5f)
        "nan", sequence [ 0.0, 1.0; 1.0, 2.0 ] 4 (fun i j -> if i = 1 && j = 3 then Single.NaN else float32 (i + j))
        "empty", sequence [] 4 (fun _ _ -> 0f)
    ]

let private sameBits (a: float32[,]) (b: float32[,]) =
    Array2D.length1 a = Array2D.length1 b
    && Array2D.length2 a = Array2D.length2 b
    && Seq.forall2
        (fun (x: float32) (y: float32) -> BitConverter.SingleToInt32Bits x = BitConverter.SingleToInt32Bits y)
        (Seq.cast<float32> a)
        (Seq.cast<float32> b)

let private leftovers (folder: string) =
    Directory.GetFiles folder
    |> Array.map Path.GetFileName
    |> Array.sort
    |> List.ofArray

[<Tests>]
let tests =
    testList
        "Data.CsdWriter"
        [
            test "write then read gives back every id, value, interval and metadata string exactly" {
                use tmp = new TempFolder()
                let path = tmp.File "out.csd"
                let written = videos ()

                let metadata =
                    readOnlyDict
                        [
                            "root name", "\"LFBE\""
                            "dimension names", "[\"a\", \"b\", \"c\", \"d\"]"
                            "x", "{\"k\": 1}"
                        ]

                CsdWriter.Write(path, "LFBE", written |> List.map (fun (v, s) -> struct (v, s)), metadata)
                use r = CsdReader.Open path
                Expect.equal r.Root "LFBE" "root"

                Expect.equal
                    (List.ofSeq r.VideoIds)
                    (written
                     |> List.map fst
                     |> List.sortWith (fun a b -> String.CompareOrdinal(a, b)))
                    "ids"

                Expect.equal r.Dimension 4 "dimension"

                Expect.equal
                    (r.Metadata |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq)
                    (metadata |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq)
                    "metadata"

                for id, s in written do
                    let back = r.Read id
                    Expect.isTrue (sameBits back.Features s.Features) $"{id} features bit for bit (-inf and NaN included)"
                    Expect.equal back.Intervals s.Intervals $"{id} intervals"

                Expect.equal (leftovers tmp.Path) [ "out.csd" ] "no temporary files left"
            }

            test "the videos are enumerated once, lazily" {
                use tmp = new TempFolder()
                let mutable starts = 0

                let once =
                    seq {
                        starts <- starts + 1

                        for v, s in videos () do
                            yield struct (v, s)
                    }

                CsdWriter.Write(tmp.File "once.csd", "R", once, readOnlyDict [])
                Expect.equal starts 1 "one pass"
            }

            test "a bad video fails naming it and leaves the old file untouched, with no temporary file" {
                use tmp = new TempFolder()
                let path = tmp.File "keep.csd"
                writeCsd path "OLD" [ "a", sequence [ 0.0, 1.0 ] 2 (fun _ _ -> 1f) ]
                let before = File.ReadAllBytes path

                let bad =
                    [
                        "good", sequence [ 0.0, 1.0 ] 3 (fun _ _ -> 1f)
                        "wide", sequence [ 0.0, 1.0 ] 5 (fun _ _ -> 1f)
                    ]

                Expect.throwsC (fun () -> writeCsd path "NEW" bad) (fun e ->
                    Expect.stringContains e.Message "'wide'" "video"
                    Expect.stringContains e.Message "dimension 5" "what")

                Expect.equal (File.ReadAllBytes path) before "old file unchanged"
                Expect.equal (leftovers tmp.Path) [ "keep.csd" ] "no temporary files"
            }

            test "intervals that are not finite or run backwards fail naming the video and row" {
                use tmp = new TempFolder()

                for iv in [ [ 0.0, 1.0; 2.0, 1.5 ]; [ 0.0, 1.0; nan, 2.0 ] ] do
                    Expect.throwsC (fun () -> writeCsd (tmp.File "x.csd") "R" [ "v1", sequence iv 2 (fun _ _ -> 0f) ]) (fun e ->
                        Expect.stringContains e.Message "'v1'" "video"
                        Expect.stringContains e.Message "row 1" "row")

                Expect.isEmpty (leftovers tmp.Path) "nothing written"
            }

            test "duplicate ids, ids with '/', and metadata that is not JSON are refused" {
                use tmp = new TempFolder()
                let s = sequence [ 0.0, 1.0 ] 2 (fun _ _ -> 0f)

                Expect.throwsC (fun () -> writeCsd (tmp.File "x.csd") "R" [ "v", s; "v", s ]) (fun e ->
                    Expect.stringContains e.Message "'v': video id given twice" "duplicate")

                Expect.throwsC (fun () -> writeCsd (tmp.File "x.csd") "R" [ "a/b", s ]) (fun e ->
                    Expect.stringContains e.Message "'a/b'" "slash")

                Expect.throwsC
                    (fun () -> CsdWriter.Write(tmp.File "x.csd", "R", [ struct ("v", s) ], readOnlyDict [ "root name", "R" ]))
                    (fun e -> Expect.stringContains e.Message "metadata 'root name' must be JSON text" "metadata")

                Expect.isEmpty (leftovers tmp.Path) "nothing written"
            }
        ]
