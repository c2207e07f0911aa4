// The whole test suite: formatting check, build, every test project under tests/ (Expecto console apps).
// usage: dotnet fsi scripts/test.fsx [-- EXPECTO-ARGS], e.g. dotnet fsi scripts/test.fsx -- --filter-test-list MultiTaskModel
// Ends with one line "tests: N passed, N failed, N skipped"; the exit code is 0 only when nothing failed.
#load "Research.fsx"

open System
open System.IO
open System.Xml.Linq

let expectoArgs = Research.scriptArgs () |> List.ofArray

let usage =
    """usage: dotnet fsi scripts/test.fsx -- [EXPECTO-ARGS]
  The whole test suite: formatting check (fantomas, csharpier), build, every test project under tests/.
flags:
  EXPECTO-ARGS  passed to every test project, e.g. --filter-test-list NAME or --sequenced (default: none, every test)
examples:
  dotnet fsi scripts/test.fsx
  dotnet fsi scripts/test.fsx -- --filter-test-list Cli
help: dotnet fsi scripts/test.fsx -- --help"""

if expectoArgs |> List.exists (fun a -> a = "--help" || a = "-h") then
    printfn "%s" usage
    exit 0

Research.execOrFail "dotnet" [ "tool"; "restore"; "--verbosity"; "quiet" ]

let fsharpFormatted =
    Research.exec "dotnet" [ "fantomas"; "--check"; "src"; "tests"; "scripts" ] = 0

let csharpFormatted =
    Research.exec "dotnet" [ "csharpier"; "check"; "src"; "tests" ] = 0

if not (fsharpFormatted && csharpFormatted) then
    eprintfn "formatting: run 'dotnet fantomas src tests scripts' and 'dotnet csharpier format src tests', then commit"
    exit 1

// Tests speak with espeak-ng and decode/encode media with ffmpeg (as the demo corpus does).
Research.requireDebian "the tests" [ "espeak-ng"; "ffmpeg" ]
Research.requireDebian "the data-parallel tests (mpirun, libmpi)" [ "openmpi-bin"; "libopenmpi-dev" ]

// Optional tools, installed as root (as on CI) so that no test skips: headless Chromium for the index page's browser
// check and the PNG copies of the figures; numpy for the check that numpy reads our .npy files. Elsewhere, without
// them, those tests are skipped with a reason (the summary line counts them).
if Environment.UserName = "root" then
    Research.requireDebian "the browser check of the index page" [ "chromium" ]
    Research.requireDebian "the numpy check of the .npy embeddings" [ "python3-numpy" ]

Research.ensureBuilt ()

let projects =
    Directory.GetFiles(Path.Combine(Research.root, "tests"), "*.fsproj", SearchOption.AllDirectories)
    |> Array.map Path.GetFileNameWithoutExtension
    |> Array.sort

let results =
    [
        for project in projects ->
            let report = Path.Combine(Path.GetTempPath(), $"{project}-{Guid.NewGuid():N}.xml")
            let dll = Path.Combine(Research.outputOf project, project + ".dll")

            let display =
                if Console.IsOutputRedirected then
                    [ "--colours"; "0"; "--no-spinner" ]
                else
                    []

            let code =
                Research.exec "dotnet" ([ dll; "--junit-summary"; report ] @ display @ expectoArgs)

            let total, failed, skipped =
                if File.Exists report then
                    let cases = XDocument.Load(report).Descendants(XName.Get "testcase") |> List.ofSeq
                    File.Delete report

                    let having (names: string list) =
                        cases
                        |> List.filter (fun c -> names |> List.exists (fun n -> c.Element(XName.Get n) <> null))
                        |> List.length

                    cases.Length, having [ "failure"; "error" ], having [ "skipped" ]
                else
                    0, 1, 0 // the runner died before writing its report

            let failed = if code <> 0 && failed = 0 then 1 else failed
            project, total - failed - skipped, failed, skipped
    ]

for project, passed, failed, skipped in results do
    printfn "%s: %d passed, %d failed, %d skipped" project passed failed skipped

let passed = results |> List.sumBy (fun (_, p, _, _) -> p)
let failed = results |> List.sumBy (fun (_, _, f, _) -> f)
let skipped = results |> List.sumBy (fun (_, _, _, s) -> s)
printfn "tests: %d passed, %d failed, %d skipped" passed failed skipped
exit (if failed = 0 && passed > 0 then 0 else 1)
