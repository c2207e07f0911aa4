/// The h5py-written MOSEI fixtures (tests/references/mosei, made by make_fixtures.py) and what numpy says about them.
module Research.Model.Tests.Data.MoseiFixtures

open System
open System.IO
open System.Text.Json
open Research.Model.Data

/// The repository root (the folder holding Research.sln).
let repoRoot = Research.Model.Tests.ReferenceFiles.root.Value

/// A path under tests/references/mosei.
let fixture (parts: string list) =
    Path.Combine(Array.ofList (repoRoot :: "tests" :: "references" :: "mosei" :: parts))

let corpus = fixture [ "corpus" ]
let folds = fixture [ "folds.json" ]

/// expected.json: the fixtures as h5py and numpy see them.
let expected =
    lazy (JsonDocument.Parse(File.ReadAllText(fixture [ "expected.json" ])).RootElement)

/// The fold segments with no row in some modality (expected.json "mosei"/"empty"), as store ids, sorted.
let emptySegmentIds () =
    [
        for e in expected.Value.GetProperty("mosei").GetProperty("empty").EnumerateArray() ->
            CorpusFeatures.SegmentId(e.GetProperty("video").GetString(), e.GetProperty("index").GetInt32())
    ]
    |> List.distinct
    |> List.sort

let strings (e: JsonElement) =
    [ for x in e.EnumerateArray() -> x.GetString() ]

let doubles (e: JsonElement) =
    [| for x in e.EnumerateArray() -> x.GetDouble() |]

/// A fresh temporary folder, deleted on dispose.
type TempFolder() =
    let path = Directory.CreateTempSubdirectory("mosei-tests-").FullName
    member _.Path = path
    member _.File(name: string) = Path.Combine(path, name)

    interface IDisposable with
        member _.Dispose() = Directory.Delete(path, true)

/// A sequence with rows [start_i, end_i] and features filled by f row column.
let sequence (intervals: (float * float) list) (dim: int) (f: int -> int -> float32) =
    let n = intervals.Length

    let iv =
        Array2D.init n 2 (fun i j -> if j = 0 then fst intervals[i] else snd intervals[i])

    CsdSequence(Array2D.init n dim f, iv)

/// Writes a .csd with SDK-style metadata (root name only).
let writeCsd (path: string) (root: string) (videos: (string * CsdSequence) list) =
    CsdWriter.Write(
        path,
        root,
        videos |> List.map (fun (v, s) -> struct (v, s)),
        readOnlyDict [ "root name", JsonSerializer.Serialize root ]
    )

/// Writes a folds file.
let writeFolds (path: string) (train: string list) (valid: string list) (test: string list) =
    File.WriteAllText(path, JsonSerializer.Serialize(dict [ "train", train; "valid", valid; "test", test ]))
