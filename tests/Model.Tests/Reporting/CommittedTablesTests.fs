/// The committed paper-tables/ (issue #14): every table is a pure function of the committed results.json, the README
/// shows Table 2 as committed, and the committed figures load one shared plotly.js. A hand edit of a table, a table
/// left behind by a change of the renderer, or a README copy that drifted fails here.
module Research.Model.Tests.Reporting.CommittedTablesTests

open System
open System.IO
open Expecto
open Research.Experiments
open Research.Model.Tests.ReferenceFiles

/// The committed folder; fails naming it when it is missing.
let private committed () =
    let folder = Path.Combine(root.Value, "paper-tables")

    if not (File.Exists(Path.Combine(folder, "results.json"))) then
        failtestf "%s/results.json is missing: paper-tables/ is committed (regenerate it with the main job)" folder

    folder

/// The first Markdown table (its consecutive lines starting with "|") of a file's lines.
let private firstTable (lines: string seq) =
    lines
    |> Seq.skipWhile (fun l -> not (l.StartsWith "|"))
    |> Seq.takeWhile (fun l -> l.StartsWith "|")
    |> List.ofSeq

[<Tests>]
let tests =
    testList
        "Reporting.CommittedTables"
        [
            test "every committed table (.md, .tex, .csv) is exactly what its committed results.json renders to" {
                let folder = committed ()
                let results = Protocol.read (Path.Combine(folder, "results.json"))
                use d = new TempDir()
                let written = TableFiles.writeAll d.Path results

                let committedTables =
                    Directory.GetFiles(folder, "table*.*")
                    |> Array.map Path.GetFileName
                    |> Array.filter (fun n -> n.EndsWith ".md" || n.EndsWith ".tex" || n.EndsWith ".csv")
                    |> set

                Expect.equal (written |> List.map Path.GetFileName |> set) committedTables "the same table files"

                for path in written do
                    let name = Path.GetFileName path
                    let expected = File.ReadAllLines(Path.Combine(folder, name))
                    let actual = File.ReadAllLines path

                    match Seq.zip expected actual |> Seq.tryFindIndex (fun (a, b) -> a <> b) with
                    | Some i ->
                        failtestf
                            "paper-tables/%s line %d differs from what results.json renders to:\n  committed: %s\n  rendered:  %s"
                            name
                            (i + 1)
                            expected[i]
                            actual[i]
                    | None -> Expect.equal actual.Length expected.Length $"paper-tables/{name}: line count"
            }

            test "results.json names the commit, command, machine and date of the run, and its dataset on every row" {
                let results = Protocol.read (Path.Combine(committed (), "results.json"))

                for field, value in
                    [
                        "commit", results.Commit
                        "command", results.Command
                        "machine", results.Machine
                        "created", results.Created
                    ] do
                    Expect.isFalse (String.IsNullOrWhiteSpace value) $"results.json has its {field}"

                Expect.stringContains results.Dataset "demo corpus" "the committed run is on the demo corpus"

                for m in results.Models do
                    for s in m.Seeds do
                        Expect.stringContains s.Dataset "demo corpus" $"{m.Key} seed {s.Seed}: labelled with its dataset"
            }

            test "the README shows Table 2 exactly as committed (our demo rows and the paper's CMU-MOSEI rows)" {
                let table2 = firstTable (File.ReadAllLines(Path.Combine(committed (), "table2.md")))
                let readme = File.ReadAllLines(Path.Combine(root.Value, "README.md"))

                let shown =
                    match readme |> Array.tryFindIndex (fun l -> l = table2.Head) with
                    | Some start -> firstTable (Seq.skip start readme)
                    | None -> failtest "README.md does not show Table 2 (paper-tables/table2.md's table)"

                Expect.equal shown table2 "README's copy of paper-tables/table2.md's table"
                Expect.exists table2 (fun l -> l.Contains "CMU-MOSEI") "the paper's row"
                Expect.exists table2 (fun l -> l.Contains "demo corpus") "our row, labelled with its dataset"
            }

            test "the committed figures load one shared plotly.min.js (Plotly.NET's copy) and stay small" {
                let folder = committed ()
                let shared = Path.Combine(folder, Plots.sharedPlotlyFile)
                Expect.equal (File.ReadAllBytes shared) (snd (Plots.shippedPlotly ())) "the shipped plotly.js"

                let pages =
                    Directory.GetFiles(folder, "*.html")
                    |> Array.filter (fun p -> Path.GetFileName p <> "index.html")

                Expect.isNonEmpty pages "figures are committed"

                for page in pages do
                    Expect.isLessThan (FileInfo(page).Length) 500_000L $"{Path.GetFileName page} does not inline plotly.js"

                    Expect.stringContains
                        (File.ReadAllText page)
                        $"src=\"{Plots.sharedPlotlyFile}\""
                        $"{Path.GetFileName page} loads the shared copy"

                let total = Directory.GetFiles(folder) |> Array.sumBy (fun f -> FileInfo(f).Length)

                Expect.isLessThan total 5_000_000L "paper-tables/ adds less than 5 MB"
            }
        ]
