module Research.Model.Tests.FeatureCacheTests

open System
open System.Collections.Generic
open System.IO
open System.Threading
open System.Threading.Tasks
open Expecto
open Research.Model.Data
open Research.Model.Training
open TorchSharp
open Research.Model.Tests.DataFixtures

/// An item whose features derive from the number in its source file.
type private Item = { Id: string; Source: string }

/// audio: (k+1) × 3, video: 2 × 4, text: k × 2 for even k only (k = 0 gives an empty matrix).
let private featuresOf (item: Item) : IReadOnlyDictionary<string, float32[,]> =
    let k = int (File.ReadAllText(item.Source).Trim())
    let v = float32 k

    [
        "audio", Array2D.init (k + 1) 3 (fun r c -> v * 100.0f + float32 (r * 3 + c) + 0.25f)
        "video", Array2D.init 2 4 (fun r c -> -v - float32 (r * 4 + c) * 0.5f)
        if k % 2 = 0 then
            "text", Array2D.init k 2 (fun r c -> float32 (r - c))
    ]
    |> readOnlyDict

let private itemsIn (d: TempDir) (numbers: int list) =
    [|
        for k in numbers ->
            {
                Id = $"item{k}"
                Source = d.Write($"src/{k}.txt", [ string k ])
            }
    |]

/// Builds with a fingerprint of the source file and the options text; counts the feature calls.
let private buildWith
    (store: string)
    (items: Item array)
    (featureOptions: string)
    (options: FeatureCacheOptions)
    (features: Item -> IReadOnlyDictionary<string, float32[,]>)
    =
    let calls = ref 0

    let result =
        FeatureCache.Build(
            store,
            items,
            (fun i -> i.Id),
            (fun i -> FeatureCache.FileFingerprint(featureOptions, i.Source)),
            (fun i ->
                Interlocked.Increment(&calls.contents) |> ignore
                features i),
            options
        )

    result, calls.Value

let private build store items =
    buildWith store items "fbank 40" (FeatureCacheOptions()) featuresOf

let private counts (r: FeatureCacheResult) = r.Computed, r.Reused, r.Removed

/// The store holds exactly the items' features, in their order.
let private expectHolds (storeDir: string) (items: Item array) =
    use store = FeatureStore.Open storeDir
    Expect.equal (List.ofSeq store.Ids) [ for i in items -> i.Id ] "ids in item order"

    for i, item in Array.indexed items do
        let expected = featuresOf item
        let got = store.Read i
        Expect.equal (got.Keys |> Seq.sort |> List.ofSeq) (expected.Keys |> Seq.sort |> List.ofSeq) $"{item.Id}: modalities"

        for KeyValue(name, matrix) in expected do
            Expect.equal got[name] matrix $"{item.Id}: {name}"

let private bytesOf (store: string) =
    File.ReadAllBytes(Path.Combine(store, "data.bin")), File.ReadAllBytes(Path.Combine(store, "index.bin"))

/// Builds shard `shard` of `count` of a sharded store (fingerprints as buildWith); counts the feature calls.
let private buildShardWith (store: string) (items: Item array) (featureOptions: string) (options: FeatureCacheOptions) shard count =
    let calls = ref 0

    let result =
        FeatureCache.BuildShard(
            store,
            items,
            (fun i -> i.Id),
            (fun i -> FeatureCache.FileFingerprint(featureOptions, i.Source)),
            (fun i ->
                Interlocked.Increment(&calls.contents) |> ignore
                featuresOf i),
            shard,
            count,
            options
        )

    result, calls.Value

let private buildShard store items shard count =
    buildShardWith store items "fbank 40" (FeatureCacheOptions()) shard count

/// Every shard's data.bin and index.bin: bytes and write time.
let private shardFiles (store: string) (count: int) =
    [
        for s in 0 .. count - 1 do
            for name in [ "data.bin"; "index.bin" ] do
                let path = Path.Combine(store, FeatureStoreShards.Name(s, count), name)
                name, s, File.ReadAllBytes path, File.GetLastWriteTimeUtc path
    ]

[<Tests>]
let tests =
    testList
        "Data.FeatureCache"
        [
            test "build then read gives back every matrix exactly; lengths come without reading data" {
                use d = new TempDir()
                let items = itemsIn d [ 0..4 ]
                let store = d.Sub "features/train"
                let r, calls = build store items
                Expect.equal (counts r, calls, r.Rewritten) ((5, 0, 0), 5, true) "computed all"
                expectHolds store items
                use s = FeatureStore.Open store
                Expect.equal (List.ofSeq (s.Lengths "audio")) [ 1; 2; 3; 4; 5 ] "audio rows"
                Expect.equal (List.ofSeq (s.Lengths "text")) [ 0; -1; 2; -1; 4 ] "text rows, -1 where absent"
                Expect.equal (s.Rows(3, "audio"), s.Columns "video", s.IndexOf "item2", s.IndexOf "nope") (4, 4, 2, -1) "shape queries"
                Expect.equal (s.ElementType "audio") FeatureElementType.Float32 "float32 by default"

                contains
                    (messageOf<KeyNotFoundException>(fun () -> s.Read(1, "text") |> ignore))
                    [ "item 'item1' (#1) has no 'text' features" ]

                contains (File.ReadAllText(Path.Combine(store, FeatureCache.ReportFile))) [ "\"computed\": 5"; "\"name\": \"video\"" ]
                Expect.equal (siblingsOf store) [ "train.lock" ] "only the lock file beside the store"
            }

            test "a re-run computes nothing and leaves the store untouched" {
                use d = new TempDir()
                let items = itemsIn d [ 0..4 ]
                let store = d.Sub "train"
                build store items |> ignore
                let before = bytesOf store
                let written = File.GetLastWriteTimeUtc(Path.Combine(store, "data.bin"))
                let r, calls = build store items
                Expect.equal (counts r, calls, r.Rewritten) ((0, 5, 0), 0, false) "nothing computed"
                Expect.equal (bytesOf store) before "same bytes"
                Expect.equal (File.GetLastWriteTimeUtc(Path.Combine(store, "data.bin"))) written "not rewritten"
            }

            test "touching one source recomputes exactly that item" {
                use d = new TempDir()
                let items = itemsIn d [ 0..4 ]
                let store = d.Sub "train"
                build store items |> ignore
                File.SetLastWriteTimeUtc(items[3].Source, DateTime.UtcNow.AddHours 1.0)
                let r, calls = build store items
                Expect.equal (counts r, calls) ((1, 4, 0), 1) "one recomputed"
                // A changed content (its size changes too) is picked up and stored.
                File.WriteAllText(items[2].Source, "12\n")
                let r, _ = build store items
                Expect.equal (counts r) (1, 4, 0) "one recomputed"
                expectHolds store items
                use s = FeatureStore.Open store
                Expect.equal (s.Rows(2, "audio")) 13 "the new content's features"
            }

            test "changing the feature options recomputes everything" {
                use d = new TempDir()
                let items = itemsIn d [ 0..4 ]
                let store = d.Sub "train"
                build store items |> ignore
                let r, calls = buildWith store items "fbank 80" (FeatureCacheOptions()) featuresOf
                Expect.equal (counts r, calls) ((5, 0, 0), 5) "all recomputed"
            }

            test "items left out are removed, new ones computed, the order is the list's" {
                use d = new TempDir()
                let store = d.Sub "train"
                let all = itemsIn d [ 0..4 ]
                build store all |> ignore
                let items = [| all[4]; all[0]; (itemsIn d [ 7 ])[0]; all[2] |]
                let r, calls = build store items
                Expect.equal (counts r, calls) ((1, 3, 2), 1) "1 computed, 3 reused, 2 removed"
                expectHolds store items
            }

            test "a feature function that throws midway stops the build and leaves the previous store as it was" {
                use d = new TempDir()
                let items = itemsIn d [ 0..4 ]
                let store = d.Sub "train"
                build store items |> ignore
                let before = bytesOf store
                let mutable seen = 0

                let crashing item =
                    seen <- seen + 1

                    if seen = 3 then
                        failwith "decoder crashed"

                    featuresOf item

                let m =
                    messageOf<FeatureItemException>(fun () -> buildWith store items "fbank 64" (FeatureCacheOptions()) crashing |> ignore)

                contains m [ store; "item 'item2' (#2)"; "decoder crashed" ]
                Expect.equal (bytesOf store) before "previous store unchanged"
                expectHolds store items
                Expect.equal (siblingsOf store) [ "train.lock" ] "no half-built store left"
            }

            test "a build killed mid-way is cleaned up; a store left aside between the renames is restored" {
                use d = new TempDir()
                let items = itemsIn d [ 0..2 ]
                let store = d.Sub "train"
                build store items |> ignore
                // Killed while building: a half-written sibling. Killed between the renames: the store is aside.
                d.WriteBytes("train.building/data.bin", [| 1uy; 2uy |]) |> ignore
                Directory.Move(store, store + ".previous")

                contains
                    (messageOf<DirectoryNotFoundException>(fun () -> FeatureStore.Open store |> ignore))
                    [ "train.previous"; "the next FeatureCache.Build restores" ]

                let r, calls = build store items
                Expect.equal (counts r, calls, r.Rewritten) ((0, 3, 0), 0, false) "restored, nothing recomputed"
                Expect.equal (siblingsOf store) [ "train.lock" ] "leftovers gone"
                expectHolds store items
            }

            test "a truncated data file or a damaged index is an error naming the store and the item" {
                use d = new TempDir()
                let items = itemsIn d [ 0..4 ]
                let store = d.Sub "train"
                build store items |> ignore
                let data = Path.Combine(store, "data.bin")
                let index = Path.Combine(store, "index.bin")
                let full, indexBytes = bytesOf store

                // Truncated after opening: the read names the item.
                use opened = FeatureStore.Open store

                using (new FileStream(data, FileMode.Open, FileAccess.Write, FileShare.ReadWrite)) (fun f ->
                    f.SetLength(int64 full.Length - 10L))

                contains
                    (messageOf<FeatureItemException>(fun () -> opened.Read 4 |> ignore))
                    [ store; "item 'item4' (#4), modality 'video'"; "truncated" ]

                Expect.equal (opened.Read 0).["audio"] (featuresOf items[0]).["audio"] "earlier items still read"

                // Truncated before opening: Open names the first item cut.
                contains
                    (messageOf<InvalidDataException>(fun () -> FeatureStore.Open store |> ignore))
                    [ store; "truncated: item 'item4' (#4)" ]

                File.WriteAllBytes(data, full)
                let damaged = Array.copy indexBytes
                damaged[20] <- damaged[20] ^^^ 1uy
                File.WriteAllBytes(index, damaged)

                contains
                    (messageOf<InvalidDataException>(fun () -> FeatureStore.Open store |> ignore))
                    [ store; "index.bin is corrupt: checksum mismatch" ]

                // A build over a damaged store recomputes everything and says why.
                let r, _ = build store items
                Expect.equal (counts r) (5, 0, 0) "recomputed"
                Expect.stringContains r.PreviousStoreProblem "checksum mismatch" "reason"
                expectHolds store items
            }

            test "NaN or inf features stop the build naming item and modality; skipping lists them instead" {
                use d = new TempDir()
                let items = itemsIn d [ 0..4 ]
                let store = d.Sub "train"

                let poisoned (bad: float32) (item: Item) =
                    let f = featuresOf item

                    if item.Id = "item2" then
                        f["video"][1, 2] <- bad

                    f

                let m =
                    messageOf<FeatureItemException>(fun () -> buildWith store items "o" (FeatureCacheOptions()) (poisoned nanf) |> ignore)

                contains m [ "item 'item2' (#2), modality 'video': NaN at row 1, column 2" ]
                Expect.isFalse (Directory.Exists store) "no store written"

                let e =
                    try
                        buildWith store items "o" (FeatureCacheOptions()) (poisoned infinityf) |> ignore
                        None
                    with :? FeatureItemException as e ->
                        Some e

                Expect.equal (e |> Option.map (fun e -> e.ItemId, e.Modality)) (Some("item2", "video")) "item and modality"

                let r, _ =
                    buildWith store items "o" (FeatureCacheOptions(SkipFailedItems = true)) (poisoned nanf)

                Expect.equal (counts r) (4, 0, 0) "the others computed"
                Expect.equal [ for s in r.Skipped -> s.Id ] [ "item2" ] "skipped listed"
                use s = FeatureStore.Open store
                Expect.equal (s.Count, s.IndexOf "item2") (4, -1) "left out of the store"

                contains
                    (File.ReadAllText(Path.Combine(store, FeatureCache.ReportFile)))
                    [ "\"skippedCount\": 1"; "\"id\": \"item2\""; "NaN at row 1" ]
            }

            test "a matrix whose width differs from the modality's other items is an error" {
                use d = new TempDir()
                let items = itemsIn d [ 0..3 ]

                let wide (item: Item) =
                    let f = featuresOf item

                    if item.Id = "item3" then
                        readOnlyDict [ "audio", Array2D.zeroCreate<float32> 2 5; "video", f["video"] ]
                    else
                        f

                let m =
                    messageOf<FeatureItemException>(fun () -> buildWith (d.Sub "train") items "o" (FeatureCacheOptions()) wide |> ignore)

                contains
                    m
                    [
                        "item 'item3' (#3), modality 'audio': 5 columns; the store's other items have 3"
                    ]
            }

            test "batches are read straight into tensors: each item's matrix, zero padding, float16 widened, absent modalities named" {
                use d = new TempDir()
                let items = itemsIn d [ 0..4 ]
                let store = d.Sub "store"

                buildWith store items "o" (FeatureCacheOptions(Float16Modalities = [| "video" |])) featuresOf
                |> ignore

                use s = FeatureStore.Open store

                let expectBatch (positions: int list) modality =
                    let sequence = StoreBatches.Padded(s, positions, modality, torch.CPU)
                    let lengths = [ for i in positions -> s.Rows(i, modality) ]
                    let longest = List.max lengths
                    let columns = s.Columns modality
                    Expect.equal sequence.Features.shape [| int64 positions.Length; int64 longest; int64 columns |] $"{modality}: shape"
                    // (TorchSharp's data<T>().ToArray() fails on a tensor without elements.)
                    let values =
                        if longest = 0 then
                            [||]
                        else
                            sequence.Features.data<float32>().ToArray()

                    let padding =
                        if longest = 0 then
                            [||]
                        else
                            sequence.Padding.data<bool>().ToArray()

                    for b, i in List.indexed positions do
                        let m = s.Read(i, modality)

                        for r in 0 .. longest - 1 do
                            Expect.equal padding[b * longest + r] (r >= lengths[b]) $"{modality}: padding of item {i}, row {r}"

                            for c in 0 .. columns - 1 do
                                let expected = if r < lengths[b] then m[r, c] else 0.0f
                                Expect.equal values[(b * longest + r) * columns + c] expected $"{modality}: item {i} [{r}, {c}]"

                // Lengths 4, 1, 5 (the longest last); video is float16 on disk; text 0, 4, 2 rows (an empty item).
                expectBatch [ 3; 0; 4 ] "audio"
                expectBatch [ 3; 0; 4 ] "video"
                expectBatch [ 0; 4; 2 ] "text"
                expectBatch [ 0 ] "text"
                Expect.equal (s.ElementType "video") FeatureElementType.Float16 "video read from float16"

                contains
                    (messageOf<KeyNotFoundException>(fun () -> StoreBatches.Padded(s, [ 0; 3 ], "text", torch.CPU) |> ignore))
                    [ "item3"; "'text'"; store ]

                let wrong = Array.zeroCreate<float32> 5

                contains
                    (messageOf<ArgumentException>(fun () -> s.ReadInto(2, "audio", Span<float32>(wrong))))
                    [ "item2"; "3 × 3 'audio' values"; "holds 5" ]
            }

            test "float16 modalities round-trip at half precision, reject values beyond its range, and switching back recomputes" {
                use d = new TempDir()
                let items = itemsIn d [ 0..4 ]
                let store = d.Sub "train"
                let half = FeatureCacheOptions(Float16Modalities = [| "video" |])
                let r, _ = buildWith store items "o" half featuresOf
                Expect.equal (counts r) (5, 0, 0) "computed"

                do
                    use s = FeatureStore.Open store

                    Expect.equal
                        (s.ElementType "video", s.ElementType "audio")
                        (FeatureElementType.Float16, FeatureElementType.Float32)
                        "types"
                    // These values (small multiples of 0.5) are exact in float16.
                    Expect.equal (s.Read(3, "video")) (featuresOf items[3]).["video"] "float16 values"

                let size = FileInfo(Path.Combine(store, "data.bin")).Length
                let r, _ = buildWith store items "o" (FeatureCacheOptions()) featuresOf
                Expect.equal (counts r) (5, 0, 0) "float16 -> float32 recomputes"
                Expect.equal (FileInfo(Path.Combine(store, "data.bin")).Length - size) (5L * 8L * 2L) "video takes 4 bytes a value again"

                let huge (item: Item) =
                    let f = featuresOf item
                    f["video"][0, 0] <- 70000.0f
                    f

                let m =
                    messageOf<FeatureItemException>(fun () -> buildWith (d.Sub "other") items "o" half huge |> ignore)

                contains
                    m
                    [
                        "item 'item0' (#0), modality 'video': 70000 at row 0, column 0 is beyond float16"
                    ]
            }

            test "parallel computation writes the same store as sequential" {
                use d = new TempDir()
                let items = itemsIn d [ 0..9 ]
                let sequential = d.Sub "seq"
                let concurrent = d.Sub "par"
                build sequential items |> ignore

                let r, calls =
                    buildWith concurrent items "fbank 40" (FeatureCacheOptions(Parallelism = 2)) featuresOf

                Expect.equal (counts r, calls) ((10, 0, 0), 10) "computed"
                Expect.equal (bytesOf concurrent) (bytesOf sequential) "identical files"
            }

            test "concurrent readers get the right matrices" {
                use d = new TempDir()
                let items = itemsIn d [ 0..4 ]
                let store = d.Sub "train"
                build store items |> ignore
                use s = FeatureStore.Open store
                let expected = items |> Array.map featuresOf
                let wrong = ref 0

                Parallel.For(
                    0,
                    400,
                    ParallelOptions(MaxDegreeOfParallelism = 4),
                    fun k ->
                        let i = k % items.Length
                        let got = s.Read i

                        if got["audio"] <> expected[i].["audio"] || got["video"] <> expected[i].["video"] then
                            Interlocked.Increment(&wrong.contents) |> ignore
                )
                |> ignore

                Expect.equal wrong.Value 0 "every concurrent read is right"
            }

            test "a second build of the same store at once is refused" {
                use d = new TempDir()
                let store = d.Sub "train"

                use _held =
                    new FileStream(store + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None)

                contains (messageOf<IOException>(fun () -> build store (itemsIn d [ 0 ]) |> ignore)) [ "another build" ]
            }

            test "bad item lists and a folder that is not a store are refused, and the folder is kept" {
                use d = new TempDir()
                let items = itemsIn d [ 0; 1 ]
                let twice = [| items[0]; items[1]; items[0] |]

                contains
                    (messageOf<ArgumentException>(fun () -> build (d.Sub "a") twice |> ignore))
                    [ "item id 'item0' appears at #0 and #2" ]

                let notes = d.Write("mine/notes.txt", [ "keep me" ])

                contains
                    (messageOf<IOException>(fun () -> build (d.Sub "mine") items |> ignore))
                    [ "is not a feature store; refusing to replace it" ]

                Expect.isTrue (File.Exists notes) "kept"
            }
            test "extra files are written into the store with it, replaced alone when only they change, and checked" {
                use d = new TempDir()
                let store = d.Sub "store"
                let items = itemsIn d [ 1; 2 ]

                let withFile (content: string) =
                    FeatureCacheOptions(ExtraFiles = readOnlyDict [ "stats.json", content ])

                let first, _ = buildWith store items "o" (withFile "A\n") featuresOf
                Expect.isTrue first.Rewritten "built"
                Expect.equal (File.ReadAllText(Path.Combine(store, "stats.json"))) "A\n" "in the store"
                let again, calls = buildWith store items "o" (withFile "B\n") featuresOf
                Expect.equal (again.Rewritten, calls) (false, 0) "items unchanged: not rebuilt"
                Expect.equal (File.ReadAllText(Path.Combine(store, "stats.json"))) "B\n" "the file alone replaced"
                Expect.equal (siblingsOf store) [ "store.lock" ] "no temporary folder"

                Expect.equal
                    (Directory.GetFiles store
                     |> Array.map Path.GetFileName
                     |> Array.sort
                     |> List.ofArray)
                    ([ FeatureCache.ReportFile; "data.bin"; "index.bin"; "stats.json" ] |> List.sort)
                    "the store's files and the extra one, no temporary file"

                for bad in [ "index.bin"; "sub/x.json"; ".hidden" ] do
                    Expect.throwsC
                        (fun () ->
                            buildWith store items "o" (FeatureCacheOptions(ExtraFiles = readOnlyDict [ bad, "x" ])) featuresOf
                            |> ignore)
                        (fun e -> Expect.stringContains e.Message $"extra file '{bad}'" $"{bad}: refused, named")
            }
            test "a sharded store reads as the plain store of the same items; its fingerprint hashes the shards' in order" {
                use d = new TempDir()
                // Shard 0 of 2 holds items without text (odd), shard 1 items with text: modalities are merged by name.
                let items = itemsIn d [ 1; 3; 5; 2; 4; 6; 7 ]
                let plain = d.Sub "plain"
                let sharded = d.Sub "sharded"
                build plain items |> ignore
                let plainBytes = bytesOf plain

                for s in 0..1 do
                    buildShard sharded items s 2 |> ignore

                expectHolds sharded items
                use p = FeatureStore.Open plain
                use q = FeatureStore.Open sharded
                Expect.equal q.ShardCount 2 "two shards"
                Expect.equal (List.ofSeq q.Ids) (List.ofSeq p.Ids) "ids in the global order"
                Expect.equal (List.ofSeq q.Modalities) (List.ofSeq p.Modalities) "modalities"

                for m in p.Modalities do
                    Expect.equal (List.ofSeq (q.Lengths m)) (List.ofSeq (p.Lengths m)) $"{m} lengths from the indexes"

                Expect.equal (q.IndexOf "item4", q.Rows(4, "audio"), q.Columns "video") (4, 5, 4) "queries"

                let shardIds =
                    [
                        for s in 0..1 do
                            use one = FeatureStore.Open(Path.Combine(sharded, FeatureStoreShards.Name(s, 2)))
                            yield List.ofSeq one.Ids
                    ]

                Expect.equal shardIds [ [ "item1"; "item3"; "item5" ]; [ "item2"; "item4"; "item6"; "item7" ] ] "consecutive shares"

                let expected =
                    let lines =
                        [
                            for s in 0..1 ->
                                FeatureStore.FingerprintOf(Path.Combine(sharded, FeatureStoreShards.Name(s, 2)))
                                + "\n"
                        ]

                    Convert.ToHexStringLower(Security.Cryptography.SHA256.HashData(Text.Encoding.UTF8.GetBytes(String.concat "" lines)))

                Expect.equal q.Fingerprint expected "SHA-256 of the shard fingerprints in order"
                Expect.notEqual q.Fingerprint p.Fingerprint "another layout, another fingerprint"
                // A plain store is what it was: index.bin's checksum is its fingerprint.
                Expect.equal (bytesOf plain) plainBytes "plain store unchanged"

                Expect.equal
                    p.Fingerprint
                    (Convert.ToHexStringLower((snd plainBytes)[(snd plainBytes).Length - 32 ..]))
                    "plain fingerprint: the index checksum"
            }

            test "a changed item rewrites only its shard: the other shards keep their bytes and write times" {
                use d = new TempDir()
                let items = itemsIn d [ 0..8 ]
                let store = d.Sub "store"

                for s in 0..2 do
                    buildShard store items s 3 |> ignore

                let before = shardFiles store 3
                Thread.Sleep 20
                File.WriteAllText(items[4].Source, "14\n") // item 4 is in shard 1 (items 3-5)
                let r1, calls1 = buildShard store items 1 3
                Expect.equal (counts r1, calls1, r1.Rewritten) ((1, 2, 0), 1, true) "shard 1: one item recomputed"
                // Shards 0 and 2 are now of the previous build: the store names the first that differs.
                contains
                    (messageOf<InvalidDataException>(fun () -> FeatureStore.Open store |> ignore))
                    [
                        "shard shard-00001-of-00003 comes from another build than shard-00000-of-00003"
                    ]

                for s in [ 0; 2 ] do
                    let r, calls = buildShard store items s 3
                    Expect.equal (counts r, calls, r.Rewritten) ((0, 3, 0), 0, false) $"shard {s}: nothing computed, not rewritten"

                let after = shardFiles store 3

                for (name, s, bytes, time), (_, _, bytes', time') in List.zip before after do
                    if s = 1 then
                        Expect.notEqual bytes' bytes $"shard 1 {name} rewritten"
                    else
                        Expect.equal bytes' bytes $"shard {s} {name}: same bytes"
                        Expect.equal time' time $"shard {s} {name}: not written"

                expectHolds store items
            }

            test "a missing shard, shards of other settings or another count, and shards into a plain store are clear errors" {
                use d = new TempDir()
                let items = itemsIn d [ 0..5 ]
                let store = d.Sub "store"

                for s in 0..2 do
                    buildShard store items s 3 |> ignore

                // Other settings for one shard.
                buildShardWith store items "fbank 80" (FeatureCacheOptions()) 2 3 |> ignore

                contains
                    (messageOf<InvalidDataException>(fun () -> FeatureStore.Open store |> ignore))
                    [ "shard shard-00002-of-00003 comes from another build"; "--shard 2/3" ]

                buildShardWith store items "fbank 40" (FeatureCacheOptions(Float16Modalities = [| "video" |])) 1 3
                |> ignore

                contains
                    (messageOf<InvalidDataException>(fun () -> FeatureStore.Open store |> ignore))
                    [ "shard shard-00001-of-00003 comes from another build" ]

                for s in 1..2 do
                    buildShard store items s 3 |> ignore

                expectHolds store items
                Directory.Delete(Path.Combine(store, FeatureStoreShards.Name(1, 3)), true)

                contains
                    (messageOf<DirectoryNotFoundException>(fun () -> FeatureStore.Open store |> ignore))
                    [ "shard shard-00001-of-00003 is missing"; "--shard 1/3" ]

                contains (messageOf<IOException>(fun () -> buildShard store items 0 4 |> ignore)) [ "holds shards of 3"; "not of 4" ]

                Expect.isFalse (Directory.Exists(Path.Combine(store, FeatureStoreShards.Name(0, 4)))) "nothing written"
                // A stray shard of another count (e.g. copied in) is named when opening.
                buildShard store items 1 3 |> ignore

                Directory.CreateDirectory(Path.Combine(store, FeatureStoreShards.Name(0, 2)))
                |> ignore

                contains (messageOf<InvalidDataException>(fun () -> FeatureStore.Open store |> ignore)) [ "holds shards of 2 and of 3" ]

                let plain = d.Sub "plain"
                build plain items |> ignore
                let bytes = bytesOf plain
                contains (messageOf<IOException>(fun () -> buildShard plain items 0 2 |> ignore)) [ "plain (unsharded) store" ]
                Expect.equal (bytesOf plain) bytes "the plain store untouched"
                Expect.isFalse (Directory.Exists(Path.Combine(plain, FeatureStoreShards.Name(0, 2)))) "no shard"
                Expect.equal (FeatureStoreShards.Parse("3/4").ToTuple()) (3, 4) "i/N"

                for bad in [ "4/4"; "-1/4"; "1"; "a/b"; "0/0" ] do
                    contains (messageOf<ArgumentException>(fun () -> FeatureStoreShards.Parse bad |> ignore)) [ $"--shard '{bad}'" ]
            }
        ]
