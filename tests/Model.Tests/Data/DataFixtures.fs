/// Temporary folders and small text files for the data-reader tests, and a way to check an error's message.
module Research.Model.Tests.DataFixtures

open System
open System.IO
open Expecto

/// A fresh temporary folder, deleted (with everything in it) on Dispose.
type TempDir() =
    let root =
        Path.Combine(Path.GetTempPath(), "research-tests-" + Guid.NewGuid().ToString "N")

    do Directory.CreateDirectory root |> ignore

    /// The folder's path.
    member _.Path = root

    /// A path inside the folder.
    member _.Sub(relative: string) = Path.Combine(root, relative)

    /// Writes lines (each ending in '\n') to a file inside the folder, creating its parent folders; returns its path.
    member this.Write(relative: string, lines: string list) =
        let path = this.Sub relative
        Directory.CreateDirectory(Path.GetDirectoryName path) |> ignore
        File.WriteAllText(path, lines |> List.map (fun l -> l + "\n") |> String.concat "")
        path

    /// Writes bytes to a file inside the folder, creating its parent folders; returns its path.
    member this.WriteBytes(relative: string, bytes: byte array) =
        let path = this.Sub relative
        Directory.CreateDirectory(Path.GetDirectoryName path) |> ignore
        File.WriteAllBytes(path, bytes)
        path

    interface IDisposable with
        member _.Dispose() =
            if Directory.Exists root then
                Directory.Delete(root, true)

/// The message of the exception of type 'e that f throws; fails the test when f throws nothing or something else.
let messageOf<'e when 'e :> exn> (f: unit -> unit) : string =
    let outcome =
        try
            f ()
            Error "nothing was thrown"
        with
        | :? 'e as e -> Ok e.Message
        | e -> Error $"{e.GetType().Name}: {e.Message}"

    match outcome with
    | Ok message -> message
    | Error what -> failtestf "expected %s, got %s" typeof<'e>.Name what

/// Checks that the message contains every part.
let contains (message: string) (parts: string list) =
    for p in parts do
        Expect.stringContains message p "error message"

/// Names of the entries beside a folder (its siblings) that start with its name: temporary leftovers.
let siblingsOf (folder: string) =
    let full = Path.GetFullPath folder
    let name = Path.GetFileName full

    Directory.GetFileSystemEntries(Path.GetDirectoryName full)
    |> Array.map Path.GetFileName
    |> Array.filter (fun n -> n.StartsWith(name + ".") && n <> name)
    |> Array.sort
    |> List.ofArray
