/// Committed reference files (tests/references/<area>/) and a reader for TorchSharp-format tensor files.
module Research.Model.Tests.ReferenceFiles

open System
open System.IO
open TorchSharp

/// The repository root: the folder above the test binary that holds Research.sln.
let root =
    lazy
        (let rec up (dir: DirectoryInfo) =
            if isNull dir then
                failwithf "no Research.sln above %s" AppContext.BaseDirectory
            elif File.Exists(Path.Combine(dir.FullName, "Research.sln")) then
                dir.FullName
            else
                up dir.Parent

         up (DirectoryInfo AppContext.BaseDirectory))

/// Path of a committed reference file; fails naming it when it is missing.
let reference (area: string) (name: string) =
    let path = Path.Combine(root.Value, "tests", "references", area, name)

    if not (File.Exists path) then
        failwithf "reference file missing: %s (see tests/references/%s/)" path area

    path

/// A module holding named buffers of given dtypes and shapes, so that TorchSharp's own `load` reads a file into them.
type private Holder(entries: (string * torch.ScalarType * int64 array) list) as this =
    inherit torch.nn.Module("holder")

    do
        for name, dtype, shape in entries do
            this.register_buffer (name, torch.zeros (shape, dtype = dtype))

/// Loads a TorchSharp-format file with exactly these entries (name, dtype, shape), in file order, by TorchSharp's reader.
let loadTensors (path: string) (entries: (string * torch.ScalarType * int64 array) list) : Map<string, torch.Tensor> =
    let holder = new Holder(entries)
    holder.load path |> ignore
    holder.state_dict () |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq

/// A fresh temporary folder, deleted when disposed.
type TempDir() =
    let path =
        Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"research-tests-{Guid.NewGuid():N}")).FullName

    member _.Path = path
    member _.File(name: string) = Path.Combine(path, name)

    interface IDisposable with
        member _.Dispose() =
            if Directory.Exists path then
                Directory.Delete(path, true)
