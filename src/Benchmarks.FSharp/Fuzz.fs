/// The fuzz half of the fault suite (issue #13): seeded, reproducible mutations (bit flips, byte overwrites, boundary
/// integers written over length fields, truncations, extensions, splices) of a small valid input of each reader —
/// the WAV reader, the `.csd` (HDF5) reader, the `.npy` reader, the Kaldi data dir, the GloVe reader, the feature
/// store and a trainer checkpoint — each read with a time limit and classified. Every case must end in success or in
/// an error of ours (InvalidDataException and its subclasses, FormatException, FeatureItemException) whose message
/// names the file or folder; anything else (IndexOutOfRange, Overflow, OutOfMemory from a bogus length,
/// NullReference, EndOfStream, ...) or a read that does not finish in time is a hole. The test command runs a few
/// dozen cases per reader (tests/Model.Tests/Faults/FuzzTests.fs); `bench.fsx --parts faults` runs 1,000 or more
/// and reports the counts by outcome class.
/// Cases run in this process on a worker thread: a hang is counted when the time limit passes (the thread is left
/// behind). The checkpoint's checksum is verified before any byte reaches TorchSharp's native loader, so mutated
/// checkpoints never reach native code.
module Research.Benchmarks.Fuzz

open System
open System.Collections.Generic
open System.IO
open System.Text
open System.Text.Json.Nodes
open System.Threading.Tasks
open Plotly.NET
open TorchSharp
open Research.Model.Audio
open Research.Model.Data
open Research.Model.Models
open Research.Model.Text
open Research.Model.Training

/// How one case ended.
type Outcome =
    /// Read without error: the mutation left an input the reader accepts.
    | Accepted
    /// An error of ours whose message names the file or folder.
    | NamedError
    /// An error of ours whose message does not name the file or folder.
    | UnnamedError
    /// Another exception type: a hole in the reader.
    | Foreign
    /// Did not finish within the time limit.
    | Hang

/// The outcome classes in report order, with their names.
let outcomes =
    [
        Accepted, "accepted"
        NamedError, "named error"
        UnnamedError, "unnamed error"
        Foreign, "foreign exception"
        Hang, "hang"
    ]

/// The name of an outcome class.
let outcomeName (o: Outcome) =
    outcomes |> List.find (fst >> (=) o) |> snd

/// Whether an outcome passes: success or a named error of ours.
let passes (o: Outcome) = o = Accepted || o = NamedError

/// A mutation kind and what it did (reproducible from the reader's seed and the case number).
type Mutation = { Kind: string; Description: string }

/// The mutation kinds, in the order `mutate` draws them.
let kinds = [ "flip"; "byte"; "boundary"; "truncate"; "extend"; "splice" ]

/// A mutated copy of `original`: one of `kinds`, drawn from `rng`.
let mutate (rng: Random) (original: byte array) : Mutation * byte array =
    let n = original.Length
    let kind = kinds[rng.Next kinds.Length]
    let copy () = Array.copy original

    match kind with
    | "flip" when n > 0 ->
        let b = copy ()
        let flips = 1 + rng.Next 4

        let at =
            [
                for _ in 1..flips ->
                    let i = rng.Next n
                    let bit = rng.Next 8
                    b[i] <- b[i] ^^^ byte (1 <<< bit)
                    $"{i}.{bit}"
            ]

        {
            Kind = kind
            Description = "bit flips at " + String.Join(", ", at)
        },
        b
    | "byte" when n > 0 ->
        let b = copy ()

        let at =
            [
                for _ in 1 .. 1 + rng.Next 4 ->
                    let i = rng.Next n
                    b[i] <- byte (rng.Next 256)
                    $"{i}=0x{b[i]:X2}"
            ]

        {
            Kind = kind
            Description = "bytes " + String.Join(", ", at)
        },
        b
    | "boundary" when n > 0 ->
        // Values that break length and offset fields: zero, all ones, the signed maxima and minima, a large power.
        let values =
            [|
                0L
                -1L
                0x7FFFFFFFL
                0x80000000L
                0x7FFFFFFFFFFFFFFFL
                0x10000L
                0xFFFFL
                1L
            |]

        let width = [| 2; 4; 8 |][rng.Next 3]
        let b = copy ()
        let i = rng.Next n
        let v = values[rng.Next values.Length]
        let bytes = BitConverter.GetBytes v

        for k in 0 .. min width (n - i) - 1 do
            b[i + k] <- bytes[k]

        {
            Kind = kind
            Description = $"{width}-byte 0x{v:X} at {i}"
        },
        b
    | "truncate" when n > 0 ->
        let keep = rng.Next n

        {
            Kind = kind
            Description = $"truncated to {keep} of {n} bytes"
        },
        original[.. keep - 1]
    | "splice" when n > 1 ->
        // Cut a slice out, or repeat one: everything after it shifts.
        let a = rng.Next n
        let len = 1 + rng.Next(min 64 (n - a))

        if rng.Next 2 = 0 then
            {
                Kind = kind
                Description = $"removed {len} bytes at {a}"
            },
            Array.append original[.. a - 1] original[a + len ..]
        else
            {
                Kind = kind
                Description = $"repeated {len} bytes at {a}"
            },
            Array.concat [ original[.. a + len - 1]; original[a .. a + len - 1]; original[a + len ..] ]
    | _ ->
        let extra = 1 + rng.Next 256
        let tail = Array.zeroCreate<byte> extra
        rng.NextBytes tail

        {
            Kind = "extend"
            Description = $"{extra} random bytes appended"
        },
        Array.append original tail

/// A reader under test: the files mutations go to, what a named error must mention, and the read itself.
type Target =
    {
        /// The reader's name in reports.
        Name: string
        /// The input files (one is mutated per case).
        Files: string array
        /// Paths one of which a named error's message must contain (the file or its folder).
        Names: string list
        /// Reads everything the reader offers (opens, then reads every item).
        Read: unit -> unit
    }

let private utf8 = UTF8Encoding(false)

let private write (path: string) (text: string) =
    Directory.CreateDirectory(Path.GetDirectoryName path) |> ignore
    File.WriteAllText(path, text, utf8)

/// A small valid WAV: 16-bit PCM stereo, 160 frames at 16 kHz, with a LIST chunk before the data.
let wavBytes () =
    let frames = 160
    let channels = 2
    use m = new MemoryStream()
    use w = new BinaryWriter(m)
    let data = frames * channels * 2
    let list = Encoding.ASCII.GetBytes "INFOISFT\005\000\000\000test\000\000"
    w.Write(Encoding.ASCII.GetBytes "RIFF")
    w.Write(4 + 24 + 8 + list.Length + 8 + data)
    w.Write(Encoding.ASCII.GetBytes "WAVEfmt ")
    w.Write 16
    w.Write 1us
    w.Write(uint16 channels)
    w.Write 16000
    w.Write(16000 * channels * 2)
    w.Write(uint16 (channels * 2))
    w.Write 16us
    w.Write(Encoding.ASCII.GetBytes "LIST")
    w.Write list.Length
    w.Write list
    w.Write(Encoding.ASCII.GetBytes "data")
    w.Write data

    for t in 0 .. frames - 1 do
        for c in 0 .. channels - 1 do
            w.Write(int16 (8000.0 * sin (float (t * (c + 1)) * 0.1)))

    w.Flush()
    m.ToArray()

let private wav (dir: string) =
    let path = Path.Combine(dir, "a.wav")
    File.WriteAllBytes(path, wavBytes ())

    {
        Name = "wav"
        Files = [| path |]
        Names = [ path ]
        Read = fun () -> WavReader.Read path |> ignore
    }

let private csd (dir: string) =
    let path = Path.Combine(dir, "a.csd")

    let video (k: int) =
        let rows = 3 + k
        let features = Array2D.init rows 4 (fun r c -> float32 (r * 4 + c + k))
        let intervals = Array2D.init rows 2 (fun r c -> float (r + c))
        struct ($"v{k}", CsdSequence(features, intervals))

    CsdWriter.Write(path, "FACET", [ video 0; video 1 ], readOnlyDict [ "dimension names", "[\"a\"]" ])

    {
        Name = "csd"
        Files = [| path |]
        Names = [ path ]
        Read =
            fun () ->
                use reader = CsdReader.Open path

                for id in reader.VideoIds do
                    reader.Read id |> ignore
    }

let private npy (dir: string) =
    let path = Path.Combine(dir, "a.npy")
    Npy.Write(path, Array2D.init 5 3 (fun r c -> float32 (r - c) * 0.5f))

    {
        Name = "npy"
        Files = [| path |]
        Names = [ path ]
        Read = fun () -> Npy.ReadMatrix path |> ignore
    }

let private kaldi (dir: string) =
    let d = Path.Combine(dir, "data")

    let files =
        [
            "wav.scp", "rec1 /audio/rec1.wav\nrec2 /audio/rec2.wav\n"
            "segments", "u1 rec1 0.00 1.50\nu2 rec1 1.50 2.75 0\nu3 rec2 0 3.2\n"
            "text", "u1 hello there\nu2 good morning\nu3 yes\n"
            "utt2spk", "u1 s1\nu2 s2\nu3 s1\n"
            "spk2utt", "s1 u1 u3\ns2 u2\n"
        ]

    for name, text in files do
        write (Path.Combine(d, name)) text

    {
        Name = "kaldi data dir"
        Files = [| for name, _ in files -> Path.Combine(d, name) |]
        Names = [ d ]
        Read = fun () -> KaldiDataDir.Load d |> ignore
    }

let private glove (dir: string) =
    let path = Path.Combine(dir, "glove.txt")

    write path "the 0.1 -0.2 0.3 0.4\n, 0.5 0.25 -1 2e-3\nhello 1 2 3 4\nnew york 0.5 0.5 0.5 0.5\nworld -1.5 0 0 1\n"

    let vocabulary =
        HashSet<string>([ "the"; "hello"; "world"; "new york" ], StringComparer.Ordinal)

    {
        Name = "glove"
        Files = [| path |]
        Names = [ path ]
        Read = fun () -> GloVe.Read(path, vocabulary) |> ignore
    }

let private store (dir: string) =
    let d = Path.Combine(dir, "store")

    let features (k: int) : IReadOnlyDictionary<string, float32[,]> =
        readOnlyDict
            [
                "audio", Array2D.init (k + 2) 3 (fun r c -> float32 (k * 10 + r * 3 + c))
                if k % 2 = 0 then
                    "video", Array2D.init 2 4 (fun r c -> float32 (r - c))
            ]

    FeatureCache.Build(d, [| 0..3 |], (fun k -> $"item{k}"), (fun k -> $"fp{k}"), features)
    |> ignore

    {
        Name = "feature store"
        Files = [| Path.Combine(d, "index.bin"); Path.Combine(d, "data.bin") |]
        Names = [ d ]
        Read =
            fun () ->
                use s = FeatureStore.Open d

                for m in s.Modalities do
                    s.Lengths m |> ignore

                for i in 0 .. s.Count - 1 do
                    s.Read i |> ignore
    }

/// The tiny model the checkpoint target saves and loads (the test fixture's dimensions).
let tinyConfig =
    ModelConfig(
        AudioDim = 10,
        VideoDim = 12,
        TextDim = 6,
        DModel = 16,
        Heads = 2,
        FeedForward = 20,
        AudioLayers = 1,
        CrossModalLayers = 1,
        DecoderLayers = 1,
        Speakers = 5,
        Dropout = 0.0,
        LabelSmoothing = 0.0,
        Tasks = TaskWeights.Pretraining,
        Modalities = ModalityWeights.Paper
    )

let private checkpoint (dir: string) =
    let path = Path.Combine(dir, "checkpoint.bin")
    torch.manual_seed 3L |> ignore
    let model = new MultiTaskModel(tinyConfig)

    let step =
        TrainStep(model, MultiTaskCriterion(tinyConfig.Tasks), LearningRateSchedule(0.5, tinyConfig.DModel, 10))

    let config = """{"fuzz":"checkpoint"}"""
    Checkpoint.Save(path, TrainerState(Step = 3L, Seed = 1, Config = config), model, step.Optimizer)

    {
        Name = "checkpoint"
        Files = [| path |]
        Names = [ path ]
        Read = fun () -> Checkpoint.Load(path, model, step.Optimizer, config) |> ignore
    }

/// The readers, by name, each made in a folder of its own.
let makers: (string * (string -> Target)) list =
    [
        "wav", wav
        "csd", csd
        "npy", npy
        "kaldi data dir", kaldi
        "glove", glove
        "feature store", store
        "checkpoint", checkpoint
    ]

/// Error types of ours: what a reader may throw for bad input.
let private ours (e: exn) =
    match e with
    | :? InvalidDataException
    | :? FormatException
    | :? FeatureItemException
    | :? CorruptCheckpointException -> true
    | _ -> false

/// Classifies an exception thrown by a read of `target`.
let classify (target: Target) (e: exn) =
    if not (ours e) then
        Foreign
    elif target.Names |> List.exists e.Message.Contains then
        NamedError
    else
        UnnamedError

/// One case: the mutation, how it ended, and the exception's type and message where one was thrown.
type Case =
    {
        Number: int
        File: string
        Mutation: Mutation
        Outcome: Outcome
        Error: string
    }

/// Runs `read` on a worker thread; None when it does not finish within `timeout`.
let private attempt (timeout: TimeSpan) (read: unit -> unit) : Result<unit, exn> option =
    let task = Task.Run(fun () -> read ())

    try
        if task.Wait timeout then Some(Ok()) else None
    with :? AggregateException as e ->
        Some(Error e.InnerException)

/// One reader's cases.
type ReaderReport =
    {
        Reader: string
        Seed: int
        Cases: Case list
        Seconds: float
    }

    /// Cases per outcome class (every class, zeros included).
    member r.Counts =
        [
            for o, name in outcomes -> name, r.Cases |> List.filter (fun c -> c.Outcome = o) |> List.length
        ]

    /// The cases that neither succeeded nor ended in a named error of ours.
    member r.Holes = r.Cases |> List.filter (fun c -> not (passes c.Outcome))

/// The seed of case `i` of a reader: stable across processes and machines (string hashes in .NET are not).
let caseSeed (seed: int) (name: string) (i: int) =
    let h = name |> Seq.fold (fun h c -> (h * 31 + int c) &&& 0xFFFFFF) 17
    (seed * 1000003 + h * 7919 + i) &&& 0x7FFFFFFF

/// Runs `count` mutated cases of one reader, made in a fresh folder under `work`; case i uses Random(seed, i), so
/// any case can be replayed alone.
let runReader (work: string) (timeout: TimeSpan) (count: int) (seed: int) (name: string) (make: string -> Target) =
    let dir = Path.Combine(work, name.Replace(' ', '-'))
    Directory.CreateDirectory dir |> ignore
    let target = make dir
    let originals = target.Files |> Array.map File.ReadAllBytes
    // The unmutated input must read: otherwise every case would be a trivial error.
    target.Read()
    let clock = Diagnostics.Stopwatch.StartNew()

    let cases =
        [
            for i in 0 .. count - 1 do
                let rng = Random(caseSeed seed name i)
                let f = rng.Next originals.Length
                let mutation, bytes = mutate rng originals[f]
                File.WriteAllBytes(target.Files[f], bytes)

                let outcome, error =
                    match attempt timeout target.Read with
                    | Some(Ok()) -> Accepted, ""
                    | Some(Error e) -> classify target e, $"{e.GetType().FullName}: {e.Message}"
                    | None -> Hang, $"did not finish in {timeout.TotalSeconds} s"

                File.WriteAllBytes(target.Files[f], originals[f])

                {
                    Number = i
                    File = Path.GetFileName target.Files[f]
                    Mutation = mutation
                    Outcome = outcome
                    Error = error
                }
        ]

    {
        Reader = name
        Seed = seed
        Cases = cases
        Seconds = clock.Elapsed.TotalSeconds
    }

/// Runs every reader (or those named in `only`, when not empty) in a temporary folder, printing a line per reader.
let run (count: int) (seed: int) (timeout: TimeSpan) (only: string list) =
    let work = Path.Combine(Path.GetTempPath(), $"research-fuzz-{Guid.NewGuid():N}")

    Directory.CreateDirectory work |> ignore

    try
        [
            for name, make in makers do
                if only.IsEmpty || List.contains name only then
                    let r = runReader work timeout count seed name make

                    printfn
                        "  %-15s %5d cases in %5.1f s: %s"
                        name
                        count
                        r.Seconds
                        (String.Join(", ", r.Counts |> List.map (fun (k, v) -> $"{k} {v}")))

                    for h in r.Holes |> List.truncate 5 do
                        printfn "    case %d (%s, %s): %s: %s" h.Number h.File h.Mutation.Description (outcomeName h.Outcome) h.Error

                    r
        ]
    finally
        try
            Directory.Delete(work, true)
        with _ ->
            () // a hung case may still hold a file; the folder is in the temporary area.

let private node (x: 'a) = JsonValue.Create x :> JsonNode

/// A reader's report as JSON: counts by outcome class and by mutation kind, and every hole (up to 20).
let reportJson (r: ReaderReport) =
    let counts = JsonObject()

    for k, v in r.Counts do
        counts[k] <- node v

    let byKind = JsonObject()

    for kind in kinds do
        let cs = r.Cases |> List.filter (fun c -> c.Mutation.Kind = kind)
        let o = JsonObject()
        o["cases"] <- node cs.Length
        o["accepted"] <- node (cs |> List.filter (fun c -> c.Outcome = Accepted) |> List.length)
        byKind[kind] <- o

    let holes =
        JsonArray(
            [|
                for h in r.Holes |> List.truncate 20 ->
                    JsonObject(
                        dict
                            [
                                "case", node h.Number
                                "file", node h.File
                                "mutation", node h.Mutation.Description
                                "outcome", node (outcomeName h.Outcome)
                                "error", node h.Error
                            ]
                    )
                    :> JsonNode
            |]
        )

    JsonObject(
        dict
            [
                "reader", node r.Reader
                "seed", node r.Seed
                "cases", node r.Cases.Length
                "seconds", node r.Seconds
                "outcomes", counts :> JsonNode
                "by_mutation", byKind
                "holes", holes
            ]
    )

/// Outcomes by reader as stacked columns (one trace per outcome class, share of the cases in %), the counts on hover.
let chart (reports: ReaderReport list) =
    let readers = [ for r in reports -> r.Reader ]
    let colours = [ "#4c9a2a"; "#2a6f9a"; "#d08b00"; "#c0392b"; "#6c3483" ]

    [
        for (_, name), colour in List.zip outcomes colours ->
            let counts = [ for r in reports -> r.Counts |> List.find (fst >> (=) name) |> snd ]

            let shares =
                List.map2 (fun c (r: ReaderReport) -> 100.0 * float c / float r.Cases.Length) counts reports

            Chart.StackedColumn(
                values = shares,
                Keys = readers,
                Name = name,
                MultiText = [ for c in counts -> string c ],
                MarkerColor = Color.fromString colour
            )
    ]
    |> Chart.combine
    |> Chart.withYAxisStyle (TitleText = "cases (%)")
    |> Chart.withXAxisStyle (TitleText = "reader")
    // Fits the PNG window (Plots.png renders 1000 × 520).
    |> Chart.withSize (960, 480)
    |> Chart.withTitle (
        $"Mutated inputs by outcome ({reports |> List.sumBy (fun r -> r.Cases.Length)} cases; pass = accepted or named error)"
    )
