module Research.Model.Tests.Data.CsdWriterTests

open System
open System.IO
open Expecto
open PureHDF.Filters
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

/// PureHDF's deflate filter, counting the chunks it decompresses and keeping the parameters stored with them (the
/// filter pipeline of the file: deflate's one parameter is the level).
type private CountingDeflate() =
    let inner = DeflateFilter() :> IH5Filter
    member val Decompressed = 0 with get, set
    member val Parameters: uint32 list = [] with get, set

    interface IH5Filter with
        member _.FilterId = DeflateFilter.Id
        member _.Name = "deflate (counting)"

        member this.Filter info =
            if info.Flags.HasFlag H5FilterFlags.Decompress then
                lock this (fun () ->
                    this.Decompressed <- this.Decompressed + 1
                    this.Parameters <- List.ofArray info.Parameters)

            inner.Filter info

        member _.GetParameters(dims, typeSize, options) =
            inner.GetParameters(dims, typeSize, options)

/// A compressible sequence: a slow ramp, the same in every column.
let private ramp rows dim =
    sequence [ for i in 0 .. rows - 1 -> float i / 8.0, float (i + 1) / 8.0 ] dim (fun i _ -> float32 i / 8f)

let private readAll (path: string) =
    use r = CsdReader.Open path

    [
        for id in r.VideoIds ->
            let s = r.Read id
            id, s.Features, s.Intervals
    ]

let private gzipTests =
    testSequenced
    <| testList
        "gzip"
        [
            test "the h5py gzip fixture (level 9, the SDK's deploy) reads exactly as its uncompressed twin" {
                let plain = fixture [ "gzip"; "plain.csd" ]
                let gzip = fixture [ "gzip"; "gzip.csd" ]
                let a = readAll plain
                let b = readAll gzip
                Expect.equal (List.map (fun (id, _, _) -> id) b) [ "empty"; "noise"; "ramp" ] "videos"

                for (id, f1, i1), (_, f2, i2) in List.zip a b do
                    Expect.isTrue (sameBits f1 f2) $"{id}: features bit for bit"
                    Expect.equal i1 i2 $"{id}: intervals"

                use r1 = CsdReader.Open plain
                use r2 = CsdReader.Open gzip

                Expect.equal
                    (Map.ofSeq (r2.Metadata |> Seq.map (fun kv -> kv.Key, kv.Value)))
                    (Map.ofSeq (r1.Metadata |> Seq.map (fun kv -> kv.Key, kv.Value)))
                    "metadata"

                Expect.isLessThan (FileInfo(gzip).Length) (FileInfo(plain).Length) "the fixture really is compressed"
            }

            test "our gzip output round-trips, is smaller on compressible data and is deflate level 9 in the file" {
                use tmp = new TempFolder()
                let written = videos () @ [ "ramp", ramp 4000 4 ]
                let meta = readOnlyDict [ "root name", "\"R\"" ]
                let items = written |> List.map (fun (v, s) -> struct (v, s))
                let gz = tmp.File "gzip.csd"
                let plain = tmp.File "plain.csd"
                CsdWriter.Write(gz, "R", items, meta)
                CsdWriter.Write(plain, "R", items, meta, gzip = false)

                let counting = CountingDeflate()
                H5Filter.Register counting

                let back =
                    try
                        readAll gz
                    finally
                        H5Filter.ResetRegistrations()

                for id, f, i in back do
                    let _, s = written |> List.find (fun (v, _) -> v = id)
                    Expect.isTrue (sameBits f s.Features) $"{id}: features bit for bit (-inf and NaN included)"
                    Expect.equal i s.Intervals $"{id}: intervals"

                // features and intervals of the 4 videos with rows; "empty" is contiguous
                Expect.equal counting.Decompressed 8 "one deflate chunk per non-empty dataset was decompressed"
                Expect.equal counting.Parameters [ 9u ] "the pipeline stores deflate level 9"
                Expect.equal (readAll plain |> List.length) written.Length "the uncompressed file reads too"
                let ratio = float (FileInfo(plain).Length) / float (FileInfo(gz).Length)
                Expect.isGreaterThan ratio 2.0 $"gzip is smaller on the ramp (plain / gzip = {ratio:F2})"
                Expect.equal (leftovers tmp.Path) [ "gzip.csd"; "plain.csd" ] "no temporary files left"
            }

            test "a large video is split into chunks of at most 1 MiB that read back in order" {
                use tmp = new TempFolder()
                let rows = CsdWriter.ChunkBytes / (300 * 4) * 2 + 7 // two full chunks and a partial one

                let big =
                    sequence [ for i in 0 .. rows - 1 -> float i, float i + 1.0 ] 300 (fun i j -> float32 (i * 300 + j))

                let path = tmp.File "big.csd"
                CsdWriter.Write(path, "R", [ struct ("big", big) ], readOnlyDict [])
                let counting = CountingDeflate()
                H5Filter.Register counting

                let back =
                    try
                        readAll path
                    finally
                        H5Filter.ResetRegistrations()

                let _, f, _ = back.Head
                Expect.isTrue (sameBits f big.Features) "features bit for bit across chunks"
                Expect.equal counting.Decompressed 4 "3 feature chunks and 1 intervals chunk"
            }
        ]

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
            gzipTests
        ]
