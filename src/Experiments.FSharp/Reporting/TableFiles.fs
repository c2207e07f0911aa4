/// The table files of a results set: Tables 1–3 as .md, .tex and .csv (scripts/reproduce.fsx writes them to paper-tables/).
module Research.Experiments.TableFiles

open System
open System.IO
open Research.Experiments.Protocol
open Research.Experiments.TableFormat

/// The three tables of a results set.
let all (r: Results) =
    [ Table1.build r; Table2.build r; Table3.build r ]

/// Writes table1–3 as .md, .tex and .csv into `folder` (each file atomically); returns the paths.
let writeAll (folder: string) (r: Results) =
    Directory.CreateDirectory folder |> ignore

    [
        for t in all r do
            for ext, text in [ "md", markdown r t; "tex", latex r t; "csv", csv r t ] do
                let path = Path.Combine(folder, $"{t.Name}.{ext}")
                // A temporary name, then a rename: a full disk or a kill leaves the previous file, never part of one.
                Research.Model.Data.AtomicFile.Write(path, (fun stream -> stream.Write(Text.UTF8Encoding(false).GetBytes text)))
                path
    ]
