module Research.Model.Tests.Data.CsdReaderTests

open System.Collections.Generic
open System.IO
open Expecto
open Research.Model.Data
open Research.Model.Tests.Data.MoseiFixtures

let private fileTests =
    [
        for file in expected.Value.GetProperty("files").EnumerateObject() do
            let e = file.Value
            let path = Path.Combine(corpus, file.Name)

            test $"{file.Name} reads as h5py sees it" {
                use r = CsdReader.Open path
                Expect.equal r.Root (e.GetProperty("root").GetString()) "root"
                Expect.equal (List.ofSeq r.VideoIds) (strings (e.GetProperty "video_ids")) "video ids, ordinal order"
                Expect.equal r.Dimension (e.GetProperty("dimension").GetInt32()) "dimension"
                Expect.equal (CsdReader.ReadRoot path) r.Root "root from the top level only"

                let metadata =
                    [
                        for m in e.GetProperty("metadata").EnumerateObject() -> m.Name, m.Value.GetString()
                    ]
                    |> List.sort

                Expect.equal (r.Metadata |> Seq.map (fun kv -> kv.Key, kv.Value) |> List.ofSeq |> List.sort) metadata "metadata strings"

                for v in e.GetProperty("videos").EnumerateObject() do
                    let x = r.Read v.Name
                    let want = v.Value
                    Expect.equal x.Rows (want.GetProperty("rows").GetInt32()) $"{v.Name} rows"
                    Expect.equal (r.Rows v.Name) x.Rows $"{v.Name} rows from the header"
                    Expect.equal x.Dimension r.Dimension $"{v.Name} dimension"

                    let mutable sum = 0.0
                    let negInf = ResizeArray()

                    for i in 0 .. x.Rows - 1 do
                        for j in 0 .. x.Dimension - 1 do
                            let f = x.Features[i, j]

                            if System.Single.IsNegativeInfinity f then
                                negInf.Add [ i; j ]
                            elif System.Single.IsFinite f then
                                sum <- sum + float f

                    let wantSum = want.GetProperty("sum").GetDouble()
                    Expect.floatClose Accuracy.high sum wantSum $"{v.Name} sum of finite features"

                    let wantNegInf =
                        [
                            for p in want.GetProperty("neg_inf").EnumerateArray() -> [ for c in p.EnumerateArray() -> c.GetInt32() ]
                        ]

                    Expect.equal (List.ofSeq negInf) wantNegInf $"{v.Name} -inf positions"
                    Expect.equal [| x.Start 0; x.End 0 |] (doubles (want.GetProperty "first_interval")) $"{v.Name} first interval"

                    Expect.equal
                        [| x.Start(x.Rows - 1); x.End(x.Rows - 1) |]
                        (doubles (want.GetProperty "last_interval"))
                        $"{v.Name} last interval"

                let full = e.GetProperty "full"
                let x = r.Read(full.GetProperty("video").GetString())
                let float32File = full.GetProperty("float32").GetBoolean()

                for i, row in Seq.indexed (full.GetProperty("features").EnumerateArray()) do
                    for j, value in Seq.indexed (row.EnumerateArray()) do
                        // float32 files store the shortest float32 text; float64 files are converted once, like numpy's astype.
                        let want =
                            if float32File then
                                value.GetSingle()
                            else
                                float32 (value.GetDouble())

                        Expect.equal x.Features[i, j] want $"features[{i}, {j}] exact"

                for i, row in Seq.indexed (full.GetProperty("intervals").EnumerateArray()) do
                    Expect.equal [| x.Start i; x.End i |] (doubles row) $"intervals[{i}] exact"
            }
    ]

[<Tests>]
let tests =
    testList
        "Data.CsdReader"
        [
            yield! fileTests

            test "an unknown video names the file, root and video" {
                let path = Path.Combine(corpus, "CMU_MOSEI_COVAREP.csd")
                use r = CsdReader.Open path

                Expect.throwsC (fun () -> r.Read "no-such-video" |> ignore) (fun e ->
                    Expect.isTrue (e :? KeyNotFoundException) "KeyNotFoundException"
                    Expect.stringContains e.Message path "file"
                    Expect.stringContains e.Message "'COVAREP'" "root"
                    Expect.stringContains e.Message "'no-such-video'" "video")
            }

            test "a truncated file is refused at open, naming the file" {
                let path = fixture [ "broken"; "truncated.csd" ]

                Expect.throwsC (fun () -> CsdReader.Open path |> ignore) (fun e ->
                    Expect.isTrue (e :? InvalidDataException) $"InvalidDataException, got {e.GetType().Name}"
                    Expect.stringContains e.Message path "file"
                    Expect.stringContains e.Message "truncated" "says why")

                Expect.throwsC (fun () -> CsdReader.ReadRoot path |> ignore) (fun e -> Expect.stringContains e.Message path "root peek")
            }

            test "a file that is not HDF5 is refused naming the file" {
                let path = fixture [ "broken"; "not_hdf5.csd" ]

                Expect.throwsC (fun () -> CsdReader.Open path |> ignore) (fun e ->
                    Expect.isTrue (e :? InvalidDataException) "InvalidDataException"
                    Expect.stringContains e.Message path "file"
                    Expect.stringContains e.Message "not an HDF5 file" "says why")
            }

            test "a video without intervals names the file, root, video and dataset" {
                let path = fixture [ "broken"; "missing_intervals.csd" ]

                let video =
                    expected.Value.GetProperty("missing_intervals").GetProperty("video").GetString()

                Expect.throwsC (fun () -> CsdReader.Open path |> ignore) (fun e ->
                    Expect.stringContains e.Message path "file"
                    Expect.stringContains e.Message "'COVAREP'" "root"
                    Expect.stringContains e.Message $"'{video}'" "video"
                    Expect.stringContains e.Message "'intervals'" "dataset")
            }

            test "a missing file names it" {
                let path = fixture [ "nowhere.csd" ]
                Expect.throwsC (fun () -> CsdReader.Open path |> ignore) (fun e -> Expect.stringContains e.Message path "file")
            }
        ]
