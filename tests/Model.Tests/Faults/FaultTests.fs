/// The fault half of the fault suite (issue #13): corrupt checkpoints fall back to the previous one, a full disk
/// leaves the previous files intact and no partial file, and a second process on a run folder is refused naming the
/// holder while a killed holder's lock is taken over. `Model.Tests.dll --hold-run DIR` is the holding process.
module Research.Model.Tests.Faults.FaultTests

open System
open System.Collections.Generic
open System.Diagnostics
open System.IO
open Expecto
open Research.Model.Data
open Research.Model.Training
open Research.Model.Tests.Training.TrainingChild
open Research.Experiments

let private tempDir name =
    let d = Path.Combine(Path.GetTempPath(), $"research-{name}-{Guid.NewGuid():N}")
    Directory.CreateDirectory d |> ignore
    d

/// An observer that keeps the trainer's messages.
type private Messages() =
    let messages = ResizeArray<string>()
    member _.All = List.ofSeq messages

    interface ITrainingObserver with
        member _.Started(_, _) = ()
        member _.Stepped(_, _, _) = ()
        member _.Evaluated(_, _) = ()
        member _.Message m = messages.Add m

let private copyFolder (source: string) (target: string) =
    Directory.CreateDirectory target |> ignore

    for f in Directory.GetFiles source do
        File.Copy(f, Path.Combine(target, Path.GetFileName f))

let private runConfig = {| DModel = 16; Run = "lock" |}

/// The holding process's entry: opens (or resumes) the run in `dir`, says so on stdout, then waits to be killed.
let holdRun (dir: string) =
    use run = RunFolder.OpenOrResume(dir, runConfig, 7, RunInfo.Capture())
    printfn "holding %d" Environment.ProcessId
    Threading.Thread.Sleep Threading.Timeout.Infinite
    0

/// Items of the writing child: 6 ids; round k's audio features all hold k (a store mixing two rounds is partial).
let private storeItems = [| 0..5 |]

let private buildStore (store: string) (k: int) =
    FeatureCache.Build(
        store,
        storeItems,
        (fun i -> $"item{i}"),
        (fun i -> $"fp{i}-{k}"),
        (fun i -> readOnlyDict [ "audio", Array2D.create (20 + i) 16 (float32 k) ])
    )
    |> ignore

let private writeEmbeddings (stem: string) (k: int) =
    let items = 300

    use w =
        new EmbeddingFiles.Writer(stem, 32, items, int64 items, false, readOnlyDict [])

    for i in 0 .. items - 1 do
        w.Add(Research.Model.Embeddings.ItemEmbedding(i, $"u{i}", Array.create 32 (float32 k), null))

    w.Complete() |> ignore

/// The writing child's entry: rounds k = 0, 1, ... of a store build, an embedding write and the tables, forever;
/// prints "round k" after each (the kill test kills it at random moments).
let writeForever (dir: string) =
    let mutable k = 0

    while true do
        buildStore (Path.Combine(dir, "store")) k
        writeEmbeddings (Path.Combine(dir, "emb")) k

        TableFiles.writeAll (Path.Combine(dir, "tables")) Research.Model.Tests.TablesTests.fixture
        |> ignore

        printfn "round %d" k
        k <- k + 1

    0

/// Mounts a tmpfs of `kib` KiB on a fresh folder for `f`, then unmounts it; skips (saying why) where mounting is not
/// possible (not root, no mount, a container without the capability).
let private onSmallDisk (kib: int) (f: string -> unit) =
    let dir = tempDir "disk-full"

    let mount =
        try
            use p =
                Process.Start(
                    ProcessStartInfo(
                        "mount",
                        [ "-t"; "tmpfs"; "-o"; $"size={kib}k"; "tmpfs"; dir ],
                        RedirectStandardError = true,
                        UseShellExecute = false
                    )
                )

            let err = p.StandardError.ReadToEnd()
            p.WaitForExit()

            if p.ExitCode = 0 then
                Ok()
            else
                Error $"mount -t tmpfs failed: {err.Trim()}"
        with e ->
            Error $"cannot run mount: {e.Message}"

    match mount with
    | Error why ->
        Directory.Delete dir
        skiptestf "needs a small tmpfs to fill (root, mount): %s" why
    | Ok() ->
        try
            f dir
        finally
            use u = Process.Start("umount", [ dir ])
            u.WaitForExit()
            Directory.Delete(dir, true)

/// Fills the disk of `dir` until at most `leave` bytes are free.
let private fill (dir: string) (leave: int64) =
    let free = DriveInfo(dir).AvailableFreeSpace
    let size = max 0L (free - leave)
    use f = new FileStream(Path.Combine(dir, "filler"), FileMode.Append)
    f.Write(Array.zeroCreate<byte>(int size))

/// Every file under `dir` (relative, sorted), and the bytes of each, except the filler.
let private snapshot (dir: string) =
    [
        for f in Directory.GetFiles(dir, "*", SearchOption.AllDirectories) |> Array.sort do
            if Path.GetFileName f <> "filler" then
                Path.GetRelativePath(dir, f), File.ReadAllBytes f
    ]

let private noSpace (f: unit -> unit) =
    let e = Expect.throwsC f id
    Expect.isTrue (e :? IOException) $"an IOException (disk full), got {e.GetType().Name}: {e.Message}"
    e.Message

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Faults"
        [
            test "a corrupt or truncated checkpoint is detected and the run falls back to the previous one, saying so" {
                let reference = tempDir "ckpt-ref"
                let dir = tempDir "ckpt"

                try
                    let refState, refHash = train reference 12L silent
                    train dir 9L silent |> ignore // checkpoints at steps 3, 6, 9: the last two are kept
                    let path = Path.Combine(dir, "checkpoint.bin")
                    Expect.equal (Checkpoint.ReadState path).Step 9L "the checkpoint"
                    Expect.equal (Checkpoint.ReadState(Checkpoint.PreviousPath path)).Step 6L "the previous one"

                    let corruptions: (string * (byte array -> byte array)) list =
                        [
                            "a flipped bit in the weights",
                            fun b ->
                                let c = Array.copy b
                                c[c.Length * 2 / 3] <- c[c.Length * 2 / 3] ^^^ 4uy
                                c
                            "truncated to half", fun b -> b[.. b.Length / 2]
                            "4 bytes appended", fun b -> Array.append b [| 1uy; 2uy; 3uy; 4uy |]
                        ]

                    for what, corrupt in corruptions do
                        let work = tempDir "ckpt-work"

                        try
                            copyFolder dir work
                            let file = Path.Combine(work, "checkpoint.bin")
                            File.WriteAllBytes(file, corrupt (File.ReadAllBytes file))

                            let e = Expect.throwsC (fun () -> Checkpoint.Verify file) id

                            Expect.isTrue (e :? CorruptCheckpointException) $"{what}: detected ({e.GetType().Name})"
                            Expect.stringContains e.Message file $"{what}: the error names the file"
                            let messages = Messages()
                            let state, hash = train work 12L messages
                            let said = String.Join("\n", messages.All)
                            Expect.stringContains said "falling back to the previous checkpoint" $"{what}: says so"
                            Expect.stringContains said (Checkpoint.PreviousPath file) $"{what}: names the previous one"
                            Expect.stringContains said "at step 6" $"{what}: resumed at the previous checkpoint's step"
                            Expect.equal hash refHash $"{what}: the run ends as an uninterrupted one does"
                            Expect.equal state.LastEvaluation["loss"] refState.LastEvaluation["loss"] $"{what}: same metrics"
                        finally
                            Directory.Delete(work, true)

                    // Both corrupt: an error naming both, nothing loaded.
                    let work = tempDir "ckpt-both"

                    try
                        copyFolder dir work
                        let file = Path.Combine(work, "checkpoint.bin")

                        for f in [ file; Checkpoint.PreviousPath file ] do
                            File.WriteAllBytes(f, (File.ReadAllBytes f)[..100])

                        let e = Expect.throwsC (fun () -> train work 12L silent |> ignore) id
                        Expect.isTrue (e :? CorruptCheckpointException) $"refused: {e.GetType().Name}: {e.Message}"
                        Expect.stringContains e.Message "previous checkpoint is no better" "both named"
                    finally
                        Directory.Delete(work, true)
                finally
                    Directory.Delete(reference, true)
                    Directory.Delete(dir, true)
            }

            test "a second process on a run folder is refused naming the holder; a killed holder's lock is taken over" {
                let dir = Path.Combine(tempDir "lock", "run")
                let dll = Reflection.Assembly.GetEntryAssembly().Location

                let info =
                    ProcessStartInfo("dotnet", [ dll; "--hold-run"; dir ], UseShellExecute = false, RedirectStandardOutput = true)

                use child = Process.Start info

                try
                    let mutable line = ""

                    while not (isNull line) && not (line.StartsWith "holding") do
                        line <- child.StandardOutput.ReadLine()

                    Expect.equal (line.Trim()) $"holding {child.Id}" "the child holds the run"

                    let e =
                        Expect.throwsC (fun () -> RunFolder.OpenOrResume(dir, runConfig, 7, RunInfo.Capture()).Dispose()) id

                    Expect.isTrue (e :? IOException) $"refused with an IOException, got {e.GetType().Name}"
                    Expect.stringContains e.Message $"pid {child.Id} on host {Environment.MachineName}" "names the holder"
                    Expect.stringContains e.Message dir "names the folder"
                    child.Kill true
                    child.WaitForExit()
                    use taken = RunFolder.OpenOrResume(dir, runConfig, 7, RunInfo.Capture())
                    Expect.isTrue taken.Resumed "opened after the holder was killed"
                    Expect.isSome (Option.ofObj taken.StaleHolder) "a stale holder was found"
                    Expect.stringContains taken.StaleHolder $"pid {child.Id}" "it names the killed holder"
                    // And it now holds the folder itself: a third opener is refused naming this process.
                    let again =
                        Expect.throwsC (fun () -> RunFolder.OpenOrResume(dir, runConfig, 7, RunInfo.Capture()).Dispose()) id

                    Expect.stringContains again.Message $"pid {Environment.ProcessId}" "the new holder is named"
                finally
                    if not child.HasExited then
                        child.Kill true

                    Directory.Delete(Path.GetDirectoryName dir, true)
            }

            test "SIGKILL during a store build, an embedding write and the tables leaves no partial file" {
                let dir = tempDir "kill-writes"
                let dll = Reflection.Assembly.GetEntryAssembly().Location
                let reference = tempDir "kill-tables"

                let expected =
                    TableFiles.writeAll reference Research.Model.Tests.TablesTests.fixture

                let rng = Random 23

                try
                    for attempt in 1..3 do
                        let info =
                            ProcessStartInfo(
                                "dotnet",
                                [ dll; "--write-child"; dir ],
                                UseShellExecute = false,
                                RedirectStandardOutput = true
                            )

                        use child = Process.Start info
                        // After the first whole round (every file exists), kill it a random moment later.
                        let mutable line = ""

                        while not (isNull line) && not (line.StartsWith "round") do
                            line <- child.StandardOutput.ReadLine()

                        Expect.isNotNull line $"attempt {attempt}: the child wrote a round"
                        Threading.Thread.Sleep(rng.Next 400)
                        child.Kill true
                        child.WaitForExit()
                        // The store: whole and of one round (or, killed between its renames, restored by the next build).
                        let store = Path.Combine(dir, "store")

                        if Directory.Exists store then
                            use s = FeatureStore.Open store
                            Expect.equal s.Count storeItems.Length $"attempt {attempt}: every item"

                            let rounds =
                                [ for i in 0 .. s.Count - 1 -> let m = (s.Read i)["audio"] in m[0, 0] ]
                                |> List.distinct

                            Expect.equal rounds.Length 1 $"attempt {attempt}: one round's features, not a mix"
                        else
                            Expect.isTrue (Directory.Exists(store + ".previous")) $"attempt {attempt}: the store is aside"

                        let e = EmbeddingFiles.readNpy (Path.Combine(dir, "emb"))
                        Expect.equal e.Ids.Length 300 $"attempt {attempt}: every embedding row"
                        let values = e.Values |> Seq.cast<float32> |> Seq.distinct |> List.ofSeq
                        Expect.equal values.Length 1 $"attempt {attempt}: embeddings of one round"

                        for path in expected do
                            let written = Path.Combine(dir, "tables", Path.GetFileName path)
                            Expect.equal (File.ReadAllText written) (File.ReadAllText path) $"attempt {attempt}: {written} whole"

                    // The next build recovers the store; no temporary of the store is left beside it.
                    buildStore (Path.Combine(dir, "store")) 99

                    let leftovers =
                        Directory.GetDirectories dir
                        |> Array.map Path.GetFileName
                        |> Array.filter (fun n -> n.StartsWith "store.")

                    Expect.isEmpty leftovers "no store temporaries after the next build"
                finally
                    Directory.Delete(dir, true)
                    Directory.Delete(reference, true)
            }

            test "a full disk during a checkpoint: a clear error, the previous checkpoints intact, no partial file" {
                onSmallDisk 2048 (fun disk ->
                    let dir = Path.Combine(disk, "run")
                    train dir 6L silent |> ignore
                    let before = snapshot disk
                    fill disk 16384L
                    let message = noSpace (fun () -> train dir 9L silent |> ignore)
                    Expect.stringContains message "space" $"says the disk is full: {message}"
                    Expect.equal (snapshot disk) before "the files are as they were, no partial or temporary file"
                    Checkpoint.Verify(Path.Combine(dir, "checkpoint.bin")))
            }

            test "a full disk during a store build: a clear error, the previous store intact, no partial file" {
                onSmallDisk 512 (fun disk ->
                    let store = Path.Combine(disk, "store")

                    let build (items: int array) (scale: int) =
                        FeatureCache.Build(
                            store,
                            items,
                            (fun k -> $"item{k}"),
                            (fun k -> $"fp{k}-{scale}"),
                            (fun k -> readOnlyDict [ "audio", Array2D.init (scale * (k + 1)) 8 (fun r c -> float32 (r + c + k)) ])
                        )
                        |> ignore

                    build [| 0..3 |] 2
                    let before = snapshot disk
                    fill disk 8192L
                    let message = noSpace (fun () -> build [| 0..7 |] 50)
                    Expect.stringContains message "space" $"says the disk is full: {message}"
                    Expect.equal (snapshot disk) before "the store is as it was, no partial or temporary file"
                    use s = FeatureStore.Open store
                    Expect.equal s.Count 4 "the previous store reads")
            }

            test "a full disk during an embedding write and a table write: a clear error, the previous files intact" {
                onSmallDisk 512 (fun disk ->
                    let stem = Path.Combine(disk, "emb")

                    let write (items: int) (dim: int) =
                        use w =
                            new EmbeddingFiles.Writer(stem, dim, items, int64 items, false, readOnlyDict [])

                        for i in 0 .. items - 1 do
                            w.Add(Research.Model.Embeddings.ItemEmbedding(i, $"u{i}", Array.init dim float32, null))

                        w.Complete() |> ignore

                    write 3 4
                    let tables = Path.Combine(disk, "tables")
                    TableFiles.writeAll tables Research.Model.Tests.TablesTests.fixture |> ignore
                    let before = snapshot disk
                    fill disk 4096L
                    let message = noSpace (fun () -> write 2000 64)
                    Expect.stringContains message "space" $"embeddings: says the disk is full: {message}"
                    Expect.equal (snapshot disk) before "embeddings: the files are as they were, no partial file"
                    // Tables: fill what is left, then rewrite them.
                    fill disk 0L

                    let message =
                        noSpace (fun () -> TableFiles.writeAll tables Research.Model.Tests.TablesTests.fixture |> ignore)

                    Expect.stringContains message "space" $"tables: says the disk is full: {message}"
                    Expect.equal (snapshot disk) before "tables: the files are as they were, no partial file"
                    Expect.equal (EmbeddingFiles.readNpy stem).Ids.Length 3 "the previous embeddings read")
            }
        ]
