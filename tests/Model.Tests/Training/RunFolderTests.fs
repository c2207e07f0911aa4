module Research.Model.Tests.RunFolderTests

open System
open System.IO
open System.Text.Json
open System.Text.RegularExpressions
open Expecto
open Research.Model
open Research.Model.Training
open Research.Model.Tests.DataFixtures
open Research.Model.Tests.TrainingFixtures
open Research.Model.Runtime

type Optimiser = { Name: string; LearningRate: float }

type Config =
    {
        DModel: int
        Layers: int
        Optimiser: Optimiser
        Tasks: string list
    }

type FinalMetrics = { F1: float; WA: float; Steps: int }

let private config =
    {
        DModel = 16
        Layers = 2
        Optimiser = { Name = "adam"; LearningRate = 1e-3 }
        Tasks = [ "asr"; "speaker" ]
    }

let private filesIn (folder: string) =
    Directory.GetFileSystemEntries folder
    |> Array.map Path.GetFileName
    |> Array.sort
    |> List.ofArray

let private json (path: string) =
    JsonDocument.Parse(File.ReadAllText path).RootElement

[<Tests>]
let tests =
    testList
        "Training.RunFolder"
        [
            test "create writes the resolved config, indented, and run.json with seed and run information" {
                use d = new TempDir()
                use run = RunFolder.Create(d.Sub "runs/a", config, 7, info)
                Expect.equal run.Path (d.Sub "runs/a") "the folder"
                Expect.isFalse run.Resumed "a new run"
                let text = File.ReadAllText(run.PathOf RunFolder.ConfigFile)
                Expect.stringContains text "\n  \"DModel\": 16" "indented, with the config's own names"
                let c = json (run.PathOf RunFolder.ConfigFile)
                Expect.equal (c.GetProperty("Optimiser").GetProperty("LearningRate").GetDouble()) 1e-3 "nested value"
                let r = json (run.PathOf RunFolder.RunFile)
                Expect.equal (r.GetProperty("seed").GetInt32()) 7 "seed"
                let start = r.GetProperty "start"
                Expect.equal (start.GetProperty("git_commit").GetString()) info.GitCommit "commit"
                Expect.isFalse (start.GetProperty("git_dirty").GetBoolean()) "dirty flag"
                Expect.equal (start.GetProperty("packages").GetProperty("libtorch").GetString()) "2.10.0" "package versions"
                Expect.equal (start.GetProperty("cpu_count").GetInt32()) 2 "cores"
                Expect.equal (start.GetProperty("command_line").GetArrayLength()) 3 "command line"
                Expect.equal (r.GetProperty("resumes").GetArrayLength()) 0 "no resumption yet"
                let record = RunFolder.ReadRun run.Path
                Expect.equal record.Seed 7 "run.json reads back"
                Expect.equal record.Start.Started info.Started "start time reads back"
                Expect.equal (List.ofSeq record.Start.CommandLine) (List.ofSeq info.CommandLine) "command line reads back"
                Expect.equal (filesIn (d.Sub "runs")) [ "a" ] "no temporary folder left beside the run"
            }

            test "RunInfo.Capture records the packages, runtime and cores" {
                let captured = RunInfo.Capture ReferenceFiles.root.Value
                Expect.equal captured.Packages["TorchSharp"] "0.107.0" "TorchSharp from its assembly"
                Expect.equal captured.Packages["libtorch"] "2.10.0" "libtorch as pinned"
                Expect.isTrue (Regex.IsMatch(captured.Packages["PureHDF"], @"^\d+\.\d+\.\d+")) "PureHDF version"
                Expect.stringStarts captured.Runtime ".NET" "runtime"
                Expect.equal captured.CpuCount Environment.ProcessorCount "cores"
                Expect.isNonEmpty captured.CommandLine "command line"
            }

            test "RunInfo.Capture records this repository's commit (skipped in a copy of the sources without .git)" {
                let root = ReferenceFiles.root.Value

                if
                    not (
                        Directory.Exists(Path.Combine(root, ".git"))
                        || File.Exists(Path.Combine(root, ".git"))
                    )
                then
                    skiptest $"{root} has no .git: a copy of the sources, not a repository, so there is no commit to capture"

                let captured = RunInfo.Capture root
                let head = ExternalTool.Run("git", [ "-C"; root; "rev-parse"; "HEAD" ], root, "git")
                let expected = Text.Encoding.UTF8.GetString(head.Output).Trim()
                Expect.equal captured.GitCommit expected "git rev-parse HEAD"
                Expect.isTrue captured.GitDirty.HasValue "dirty flag known"
            }

            test "outside a repository the commit is unknown" {
                use d = new TempDir()
                let captured = RunInfo.Capture d.Path
                Expect.equal captured.GitCommit RunInfo.Unknown "no git there"
                Expect.isFalse captured.GitDirty.HasValue "dirty unknown"
            }

            test "re-opening an unfinished run with the same config and seed resumes it in the same folder" {
                use d = new TempDir()
                let path = d.Sub "run"

                do
                    use run = RunFolder.OpenOrResume(path, config, 7, info)
                    Expect.isFalse run.Resumed "created"
                    run.Log.Step(step 1L, 0, 10.0)

                let later =
                    RunInfo(
                        "feedface",
                        info.GitDirty,
                        info.Packages,
                        info.Runtime,
                        info.Os,
                        info.CpuCount,
                        info.CommandLine,
                        info.Started.AddHours 1.0
                    )

                use run = RunFolder.OpenOrResume(path, config, 7, later)
                Expect.isTrue run.Resumed "resumed"
                Expect.isFalse run.IsFinished "not finished"
                Expect.equal run.Log.LastStep 1L "the log continues"
                let record = RunFolder.ReadRun path
                Expect.equal record.Start.GitCommit info.GitCommit "the start is kept"
                Expect.equal [ for r in record.Resumes -> r.GitCommit ] [ "feedface" ] "the resumption is recorded"
            }

            test "re-opening with a different config or seed is an error naming the differing keys" {
                use d = new TempDir()
                let path = d.Sub "run"

                do
                    use _ = RunFolder.Create(path, config, 7, info)
                    ()

                let changed =
                    { config with
                        DModel = 32
                        Optimiser =
                            { config.Optimiser with
                                LearningRate = 3e-4
                            }
                    }

                let error =
                    try
                        RunFolder.OpenOrResume(path, changed, 8, info).Dispose()
                        failtest "nothing thrown"
                    with :? RunConfigMismatchException as e ->
                        e

                Expect.equal (List.ofSeq error.DifferingKeys) [ "seed"; "DModel"; "Optimiser.LearningRate" ] "differing keys"
                contains error.Message [ path; "DModel (16 → 32)"; "seed (7 → 8)"; "Optimiser.LearningRate" ]

                let missing =
                    messageOf<RunConfigMismatchException>(fun () -> RunFolder.OpenOrResume(path, {| DModel = 16 |}, 7, info).Dispose())

                contains missing [ "Layers (2 → (absent))"; "Tasks" ]
                Expect.equal (RunFolder.ReadRun path).Resumes.Count 0 "nothing recorded by the failed opens"
            }

            test "the torch threads are an execution setting: a run resumes and is reused under other threads" {
                use d = new TempDir()
                let path = d.Sub "run"

                do
                    use _ = RunFolder.Create(path, {| DModel = 16; Threads = 2 |}, 7, info)
                    ()

                do
                    use run = RunFolder.OpenOrResume(path, {| DModel = 16; Threads = 1 |}, 7, info)
                    Expect.isTrue run.Resumed "resumed under 1 thread"

                let error =
                    try
                        RunFolder.OpenOrResume(path, {| DModel = 32; Threads = 1 |}, 7, info).Dispose()
                        failtest "nothing thrown"
                    with :? RunConfigMismatchException as e ->
                        e

                Expect.equal (List.ofSeq error.DifferingKeys) [ "DModel" ] "only what is trained differs"

                Expect.isTrue
                    ((Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(path, RunFolder.ConfigFile)))).["Threads"].GetValue<int>() = 2)
                    "run.json keeps the threads the run started with"
            }

            test "create refuses a folder that holds a run or other files" {
                use d = new TempDir()
                let path = d.Sub "run"

                do
                    use _ = RunFolder.Create(path, config, 7, info)
                    ()

                contains (messageOf<IOException>(fun () -> RunFolder.Create(path, config, 7, info).Dispose())) [ path; "OpenOrResume" ]
                let other = d.Write("other/notes.txt", [ "x" ])

                contains
                    (messageOf<IOException>(fun () -> RunFolder.Create(Path.GetDirectoryName other, config, 7, info).Dispose()))
                    [ "not an empty folder" ]

                Directory.CreateDirectory(d.Sub "empty") |> ignore
                use run = RunFolder.Create(d.Sub "empty", config, 7, info)
                Expect.isTrue (File.Exists(run.PathOf RunFolder.ConfigFile)) "an empty folder becomes the run"
            }

            test "an open run is locked against a second opener until disposed" {
                use d = new TempDir()
                let path = d.Sub "run"
                let first = RunFolder.Create(path, config, 7, info)
                contains (messageOf<IOException>(fun () -> RunFolder.OpenOrResume(path, config, 7, info).Dispose())) [ path; "open" ]
                first.Dispose()
                use second = RunFolder.OpenOrResume(path, config, 7, info)
                Expect.isTrue second.Resumed "opens once released"
            }

            test "finish writes metrics.json atomically and DONE; no temporary files are left" {
                use d = new TempDir()
                use run = RunFolder.Create(d.Sub "run", config, 7, info)
                run.Log.Step(step 1L, 0, 10.0)
                run.WriteJson("predictions.json", [| 1; 2 |])

                run.Finish({ F1 = 0.61; WA = nan; Steps = 1 })

                Expect.isTrue run.IsFinished "finished"
                Expect.isTrue (RunFolder.IsDone run.Path) "DONE exists"

                Expect.equal
                    (filesIn run.Path)
                    [
                        "DONE"
                        "config.json"
                        "log.jsonl"
                        "metrics.json"
                        "predictions.json"
                        "run.json"
                    ]
                    "exactly the run's files: no temporary or lock file"

                Expect.equal (filesIn d.Path) [ "run" ] "nothing beside the folder"
                let m = RunFolder.ReadMetrics run.Path
                Expect.equal (m.GetProperty("F1").GetDouble()) 0.61 "metric"
                Expect.equal (m.GetProperty("WA").GetString()) "NaN" "NaN is written as a string"
                let typed = RunFolder.ReadMetrics<FinalMetrics> run.Path
                Expect.equal typed.F1 0.61 "typed read"
                Expect.isTrue (Double.IsNaN typed.WA) "NaN reads back"
            }

            test "once DONE exists every write throws, in this process and after re-opening" {
                use d = new TempDir()
                let path = d.Sub "run"
                let run = RunFolder.Create(path, config, 7, info)
                let log = run.Log
                log.Step(step 1L, 0, 10.0)
                run.Finish {| F1 = 0.5 |}
                let before = File.ReadAllText(Path.Combine(path, RunFolder.LogFile))

                let refused =
                    [
                        "finish again", (fun () -> run.Finish {| F1 = 0.9 |})
                        "log a step", (fun () -> log.Step(step 2L, 0, 10.0))
                        "log an evaluation", (fun () -> log.Evaluation(1L, readOnlyDict [ "f1", 0.5 ], "valid"))
                        "truncate the log", (fun () -> log.TruncateAfter 0L |> ignore)
                        "open the log", (fun () -> run.Log |> ignore)
                        "write a file", (fun () -> run.WriteJson("x.json", 1))
                    ]

                for what, f in refused do
                    Expect.throwsT<InvalidOperationException> f what

                run.Dispose()
                use again = RunFolder.OpenOrResume(path, config, 7, info)
                Expect.isTrue again.IsFinished "re-opened finished"
                contains (messageOf<InvalidOperationException>(fun () -> again.Log |> ignore)) [ "DONE"; "read-only" ]
                Expect.throwsT<InvalidOperationException> (fun () -> again.Finish {| F1 = 0.9 |}) "finish after re-opening"
                Expect.equal (File.ReadAllText(Path.Combine(path, RunFolder.LogFile))) before "log unchanged"
                Expect.equal ((RunFolder.ReadMetrics path).GetProperty("F1").GetDouble()) 0.5 "metrics unchanged"
                Expect.equal (RunFolder.ReadRun path).Resumes.Count 0 "run.json unchanged"
                Expect.isFalse (File.Exists(Path.Combine(path, ".lock"))) "no lock file"
            }

            test "an unfinished run has no metrics to read; reserved names cannot be written" {
                use d = new TempDir()
                use run = RunFolder.Create(d.Sub "run", config, 7, info)
                contains (messageOf<InvalidOperationException>(fun () -> RunFolder.ReadMetrics run.Path |> ignore)) [ "not finished" ]

                for name in [ RunFolder.ConfigFile; RunFolder.MetricsFile; RunFolder.DoneFile; "sub/x.bin" ] do
                    Expect.throwsT<ArgumentException> (fun () -> run.WriteFile(name, ignore)) name

                run.WriteFile("checkpoint.bin", (fun s -> s.Write([| 1uy; 2uy |], 0, 2)))
                Expect.equal (File.ReadAllBytes(run.PathOf "checkpoint.bin")) [| 1uy; 2uy |] "written"
            }
        ]
