/// The files an embedding run writes next to each other under one stem PATH, and their readers:
///
/// | file | utterance embeddings (default) | frame-level (`--frames`) |
/// |---|---|---|
/// | `PATH.npy` | float32 (n, d): row i = item i | float32 (total frames, d): items one after another |
/// | `PATH.ids.txt` | n lines: the id of row i | n lines: the id of item i |
/// | `PATH.offsets.txt` | — | n + 1 lines: item i is rows offsets[i] .. offsets[i+1] − 1 of the .npy |
/// | `PATH.parquet` | columns `id` (string), `e0` … `e{d-1}` (float) | columns `id`, `frame` (int32, 0-based), `e0` … |
///
/// Each file is written under a temporary name and renamed only when everything was written (a failed or killed
/// run leaves the previous files or none, never a partial one); the Parquet footer's key-value metadata holds
/// the run's description.
module Research.Experiments.EmbeddingFiles

open System
open System.Collections.Generic
open System.IO
open System.Threading
open Parquet
open Parquet.Schema
open Research.Model.Data
open Research.Model.Embeddings

/// The paths of the files under a stem.
type Paths =
    {
        Npy: string
        Ids: string
        Offsets: string
        Parquet: string
    }

/// The files of stem `path` (a trailing `.npy` or `.parquet` is taken as part of the stem's name and dropped).
let pathsOf (path: string) =
    let full = Path.GetFullPath path

    let stem =
        if full.EndsWith(".npy", StringComparison.OrdinalIgnoreCase) then
            full.Substring(0, full.Length - 4)
        elif full.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase) then
            full.Substring(0, full.Length - 8)
        else
            full

    {
        Npy = stem + ".npy"
        Ids = stem + ".ids.txt"
        Offsets = stem + ".offsets.txt"
        Parquet = stem + ".parquet"
    }

let private sync (t: Tasks.Task) = t.GetAwaiter().GetResult()
let private syncValue (t: Tasks.Task<'T>) = t.GetAwaiter().GetResult()
let private syncValueTask (t: Tasks.ValueTask) = t.AsTask().GetAwaiter().GetResult()

/// Parquet schema of the embedding files: id, (frame,) e0 … e{d-1}.
let schema (dim: int) (frames: bool) =
    let fields: Field list =
        [
            yield DataField<string>("id", false)
            if frames then
                yield DataField<int>("frame")
            for j in 0 .. dim - 1 -> DataField<float32>($"e{j}")
        ]

    ParquetSchema(fields)

/// Streams embeddings into the files of a stem. Declare the row count up front (items, or their audio frames
/// with `frames`), `Add` each item in order, then `Complete`; disposing without completing deletes the temporary
/// files and leaves any earlier files of the stem as they were.
type Writer(path: string, dim: int, items: int, rows: int64, frames: bool, metadata: IReadOnlyDictionary<string, string>) =
    let paths = pathsOf path
    let folder = Path.GetDirectoryName paths.Npy

    do
        if dim < 1 then
            invalidArg "dim" $"embedding dimension must be positive, got {dim}"

        if not (Directory.Exists folder) then
            raise (DirectoryNotFoundException($"{path}: the folder {folder} does not exist"))

    let token = Guid.NewGuid().ToString "N"

    let temp (final: string) =
        Path.Combine(folder, $".{Path.GetFileName final}.{token}.tmp")

    let temps =
        [
            paths.Npy, temp paths.Npy
            paths.Ids, temp paths.Ids
            paths.Parquet, temp paths.Parquet
            if frames then
                paths.Offsets, temp paths.Offsets
        ]

    let tempOf (final: string) =
        temps |> List.find (fst >> (=) final) |> snd

    let npyStream =
        new FileStream(tempOf paths.Npy, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 <<< 16)

    let npy = NpyWriter(npyStream, rows, dim)
    let ids = new StreamWriter(tempOf paths.Ids, false, Text.UTF8Encoding false)

    let offsets =
        if frames then
            let w = new StreamWriter(tempOf paths.Offsets, false, Text.UTF8Encoding false)
            w.WriteLine "0"
            Some w
        else
            None

    let parquetStream =
        new FileStream(tempOf paths.Parquet, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 <<< 16)

    let parquetSchema = schema dim frames
    let fields = parquetSchema.GetDataFields()

    let parquet =
        syncValue (ParquetWriter.CreateAsync(parquetSchema, parquetStream, ParquetOptions(), false, CancellationToken.None))

    do parquet.CustomMetadata <- Dictionary<string, string>(metadata)

    // One row group per ~1M values (4 MB): bounded memory whatever the output's size.
    let groupRows = max 1 ((1 <<< 20) / dim)
    let bufferIds = ResizeArray<string>(groupRows)
    let bufferFrames = ResizeArray<int>(groupRows)
    let columns = Array.init dim (fun _ -> Array.zeroCreate<float32> groupRows)
    let mutable buffered = 0
    let mutable added = 0
    let mutable written = 0L
    let mutable completed = false
    let mutable closed = false

    let flush () =
        if buffered > 0 then
            use group = parquet.CreateRowGroup()
            let mutable f = 0
            sync (group.WriteAsync(fields[f], bufferIds :> IReadOnlyCollection<string>, Nullable()))
            f <- f + 1

            if frames then
                sync (group.WriteAsync<int>(fields[f], ReadOnlyMemory<int>(bufferFrames.ToArray())))
                f <- f + 1

            for j in 0 .. dim - 1 do
                sync (group.WriteAsync<float32>(fields[f + j], ReadOnlyMemory<float32>(columns[j], 0, buffered)))

            group.CompleteValidate()
            bufferIds.Clear()
            bufferFrames.Clear()
            buffered <- 0

    let addRow (id: string) (frame: int) (values: int -> float32) =
        let row = Array.init dim values
        npy.WriteRow(ReadOnlySpan row)
        bufferIds.Add id

        if frames then
            bufferFrames.Add frame

        for j in 0 .. dim - 1 do
            columns[j][buffered] <- row[j]

        buffered <- buffered + 1
        written <- written + 1L

        if buffered = groupRows then
            flush ()

    let close () =
        if not closed then
            closed <- true
            // Every file is closed even when one fails (a full disk fails the last flush): no handle stays open.
            let errors = ResizeArray<exn>()

            let attempt (f: unit -> unit) =
                try
                    f ()
                with e ->
                    errors.Add e

            attempt (fun () -> syncValueTask (parquet.DisposeAsync()))
            attempt parquetStream.Dispose
            attempt npyStream.Dispose
            attempt ids.Dispose
            attempt (fun () -> offsets |> Option.iter (fun w -> w.Dispose()))

            if errors.Count > 0 then
                Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(errors[0]).Throw()

    /// The stem's file paths.
    member _.Paths = paths

    /// Rows written so far.
    member _.Rows = written

    /// Appends one item: its mean embedding, or with `frames` its frame-level embeddings.
    member _.Add(e: ItemEmbedding) =
        if completed then
            invalidOp "the embedding files are already complete"

        if added = items then
            invalidOp $"declared {items} items; '{e.Id}' is one too many"

        if e.Id.Contains '\n' || e.Id.Contains '\r' then
            invalidArg "e" $"item id '{e.Id}' holds a line break; the ids file has one id per line"

        if frames then
            let f =
                match e.Frames with
                | null -> invalidArg "e" $"item '{e.Id}' has no frame-level embeddings (extract with Frames = true)"
                | f -> f

            if f.GetLength 1 <> dim then
                invalidArg "e" $"item '{e.Id}' has dimension {f.GetLength 1}, expected {dim}"

            for t in 0 .. f.GetLength 0 - 1 do
                addRow e.Id t (fun j -> f[t, j])

            offsets.Value.WriteLine(written)
        else
            if e.Mean.Length <> dim then
                invalidArg "e" $"item '{e.Id}' has dimension {e.Mean.Length}, expected {dim}"

            addRow e.Id 0 (fun j -> e.Mean[j])

        ids.WriteLine e.Id
        added <- added + 1

    /// Checks the counts, closes the files and renames them into place; a frame-level run's offsets file is
    /// written, an utterance run removes a stale one so the stem never mixes layouts.
    member _.Complete() =
        if added <> items then
            invalidOp $"declared {items} items but {added} were added"

        flush ()
        npy.Complete()
        close ()

        for final, t in temps do
            File.Move(t, final, true)

        if not frames && File.Exists paths.Offsets then
            File.Delete paths.Offsets

        completed <- true
        paths

    interface IDisposable with
        member _.Dispose() =
            if not completed then
                try
                    close ()
                with _ ->
                    ()

                for _, t in temps do
                    File.Delete t

/// What the files of a stem hold, read back.
type Contents =
    {
        Ids: string array
        /// (rows, d): one row per item, or per frame when Offsets is given.
        Values: float32[,]
        /// Frame-level files: item i is rows Offsets[i] .. Offsets[i+1] − 1.
        Offsets: int64 array option
    }

/// Reads `PATH.npy`, `PATH.ids.txt` and, when present, `PATH.offsets.txt`; checks that they agree.
let readNpy (path: string) : Contents =
    let p = pathsOf path
    let values = Npy.ReadMatrix p.Npy
    let ids = File.ReadAllLines p.Ids

    let offsets =
        if File.Exists p.Offsets then
            Some(File.ReadAllLines p.Offsets |> Array.map int64)
        else
            None

    match offsets with
    | Some o ->
        if o.Length <> ids.Length + 1 || o[o.Length - 1] <> int64 (values.GetLength 0) then
            failwithf
                "%s: %d offsets (last %d) do not fit %d ids and %d rows"
                p.Offsets
                o.Length
                (Array.last o)
                ids.Length
                (values.GetLength 0)
    | None ->
        if ids.Length <> values.GetLength 0 then
            failwithf "%s has %d ids but %s has %d rows" p.Ids ids.Length p.Npy (values.GetLength 0)

    {
        Ids = ids
        Values = values
        Offsets = offsets
    }

/// A Parquet file of embeddings read back: per row its id, its frame (when the file has a `frame` column) and values.
type ParquetContents =
    {
        Ids: string array
        Frames: int array option
        Values: float32[,]
        Metadata: IReadOnlyDictionary<string, string>
    }

/// Reads an embeddings Parquet file (every row group) with Parquet.Net.
let readParquet (path: string) : ParquetContents =
    let file = (pathsOf path).Parquet

    let reader =
        syncValue (ParquetReader.CreateAsync(file, null, CancellationToken.None))

    use _ =
        { new IDisposable with
            member _.Dispose() = syncValueTask (reader.DisposeAsync())
        }

    let fields = reader.Schema.GetDataFields()

    if fields.Length < 2 || fields[0].Name <> "id" then
        failwithf "%s: expected columns id, [frame,] e0 ... (found %s)" file (fields |> Array.map _.Name |> String.concat ", ")

    let hasFrames = fields[1].Name = "frame"
    let first = if hasFrames then 2 else 1
    let dim = fields.Length - first

    for j in 0 .. dim - 1 do
        if fields[first + j].Name <> $"e{j}" then
            failwithf "%s: column %d is '%s', expected 'e%d'" file (first + j) fields[first + j].Name j

    let ids = ResizeArray<string>()
    let frames = ResizeArray<int>()
    let rows = ResizeArray<float32 array>()

    for g in 0 .. reader.RowGroupCount - 1 do
        use group = reader.OpenRowGroupReader g
        let n = int group.RowCount
        let idValues = Array.zeroCreate<string> n
        syncValueTask (group.ReadAsync(fields[0], Memory<string>(idValues), Nullable(), CancellationToken.None))
        ids.AddRange idValues

        if hasFrames then
            let f = Array.zeroCreate<int> n
            syncValueTask (group.ReadAsync<int>(fields[1], Memory<int>(f), Nullable(), CancellationToken.None))
            frames.AddRange f

        let columns =
            Array.init dim (fun j ->
                let c = Array.zeroCreate<float32> n
                syncValueTask (group.ReadAsync<float32>(fields[first + j], Memory<float32>(c), Nullable(), CancellationToken.None))
                c)

        for i in 0 .. n - 1 do
            rows.Add(Array.init dim (fun j -> columns[j][i]))

    {
        Ids = ids.ToArray()
        Frames = if hasFrames then Some(frames.ToArray()) else None
        Values = Array2D.init rows.Count dim (fun i j -> rows[i][j])
        Metadata = reader.CustomMetadata
    }
