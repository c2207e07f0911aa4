/// The main job's stage timings (timings.json): CPU time of the process and of the tools it waits for, wall time,
/// nesting, the file and its summary line.
module Research.Model.Tests.StagesTests

open System
open System.Diagnostics
open System.IO
open System.Text.Json.Nodes
open Expecto
open Research.Experiments

/// Spins this thread until the process has used `seconds` more CPU time.
let private spin (seconds: float) =
    let me = Process.GetCurrentProcess()
    let start = me.TotalProcessorTime.TotalSeconds
    let mutable x = 0.0

    while (me.Refresh()
           me.TotalProcessorTime.TotalSeconds - start < seconds) do
        for i in 1..100000 do
            x <- x + sqrt (float i)

    x

let private stageNamed (r: Stages.Recorder) name =
    r.Stages |> List.find (fun s -> s.Name = name)

[<Tests>]
let tests =
    // Sequenced: the recorder measures the whole process's CPU time, which tests running beside would inflate.
    testSequenced
    <| testList
        "Stages"
        [
            test "a busy stage records its CPU time; wall time covers a sleeping one; stages in run order" {
                let r = Stages.Recorder()
                r.Time("busy", fun () -> spin 0.3) |> ignore
                r.Time("sleep", fun () -> Threading.Thread.Sleep 600)
                let busy = stageNamed r "busy"
                let sleep = stageNamed r "sleep"
                // No upper bound on CPU time: it is the whole process's, with its other threads (GC, background JIT)
                // and any child of an earlier test reaped meanwhile (cutime), which a test host cannot keep quiet.
                Expect.isGreaterThanOrEqual busy.CpuSeconds 0.25 "the spin's CPU time (clock ticks of 10 ms)"
                Expect.isGreaterThanOrEqual sleep.WallSeconds 0.59 "wall time of the sleep"
                Expect.isGreaterThanOrEqual sleep.StartSeconds (busy.StartSeconds + busy.WallSeconds) "run order"
            }

            test "the CPU time of a child process waited for is counted (cutime), not only this process's" {
                let r = Stages.Recorder()
                let me = Process.GetCurrentProcess()
                let own = me.TotalProcessorTime.TotalSeconds

                r.Time(
                    "child",
                    fun () ->
                        let info = ProcessStartInfo("bash", UseShellExecute = false)
                        info.ArgumentList.Add "-c"
                        info.ArgumentList.Add "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"
                        use p = Process.Start info
                        p.WaitForExit()
                )

                me.Refresh()
                let ownDelta = me.TotalProcessorTime.TotalSeconds - own
                let child = stageNamed r "child"
                // The child counts to 300,000 in bash: about a second of CPU time.
                Expect.isGreaterThan (child.CpuSeconds - ownDelta) 0.2 $"child CPU counted (stage {child.CpuSeconds}, own {ownDelta})"
            }

            test "the second process's CPU time, in its own timings, is not counted again in the stage that reaps it" {
                let r = Stages.Recorder()
                let me = Process.GetCurrentProcess()
                let own = me.TotalProcessorTime.TotalSeconds
                let dir = Directory.CreateTempSubdirectory("stages-")
                let timings = Path.Combine(dir.FullName, "second-timings.json")

                try
                    r.Time(
                        "second process ends",
                        fun () ->
                            // Like the second process: busy, then its whole CPU time (clock ticks) in its timings file.
                            let info = ProcessStartInfo("bash", UseShellExecute = false)
                            info.ArgumentList.Add "-c"

                            info.ArgumentList.Add(
                                "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; read -a f < /proc/$$/stat; "
                                + $"echo \"{{\\\"{Reproduce.ProcessCpuKey}\\\": $((f[13] + f[14]))e-2}}\" > \"$0\""
                            )

                            info.ArgumentList.Add timings
                            use p = Process.Start info
                            let exclude = Reproduce.excludeSecondProcessCpu timings
                            p.EnableRaisingEvents <- true
                            p.Exited.Add(fun _ -> exclude ())
                            p.WaitForExit()
                            exclude ()
                    )

                    me.Refresh()
                    let ownDelta = me.TotalProcessorTime.TotalSeconds - own

                    let recorded =
                        JsonNode.Parse(File.ReadAllText timings).[Reproduce.ProcessCpuKey].GetValue<float>()

                    let stage = stageNamed r "second process ends"
                    Expect.isGreaterThan recorded 0.3 "the child's own CPU time, as it recorded it"
                    // Without the exclusion the stage counts the child's time (the test above): about a second.
                    Expect.isLessThan (stage.CpuSeconds - ownDelta) 0.1 $"not counted again (stage {stage.CpuSeconds}, own {ownDelta})"
                finally
                    dir.Delete true
            }

            test "nested stages carry their parent's name; a failing stage is recorded and its error passes through" {
                let r = Stages.Recorder()

                r.Time(
                    "outer",
                    fun () ->
                        r.Time("inner", ignore)

                        Expect.throwsT<InvalidOperationException>
                            (fun () -> r.Time("failing", fun () -> raise (InvalidOperationException "boom")))
                            "the stage's error passes through"
                )

                Expect.equal
                    (r.Stages |> List.map (fun s -> s.Name))
                    [ "outer / inner"; "outer / failing"; "outer" ]
                    "in the order they ended, nested with their parent's name"

                Expect.equal (Stages.topLevel r.Stages |> List.map (fun s -> s.Name)) [ "outer" ] "one top-level stage"
            }

            test "timings.json lists the top-level stages in run order with wall and CPU time; its summary line names them" {
                let r = Stages.Recorder()
                r.Time("first", fun () -> Threading.Thread.Sleep 20)
                r.Time("second", fun () -> r.Time("part", ignore))
                let dir = Directory.CreateTempSubdirectory("stages-")
                let path = Path.Combine(dir.FullName, Stages.timingsFile)

                try
                    Machine.writeJson path (Stages.toJson r "dotnet fsi scripts/reproduce.fsx" "abc123")
                    let root = JsonNode.Parse(File.ReadAllText path)

                    let stages =
                        root["stages"].AsArray()
                        |> Seq.map (fun s -> s["name"].GetValue<string>())
                        |> List.ofSeq

                    Expect.equal stages [ "first"; "second" ] "top-level stages, in run order"
                    Expect.equal (root["nested_stages"].AsArray().Count) 1 "the nested one apart"
                    Expect.equal (root["commit"].GetValue<string>()) "abc123" "provenance"

                    let first = root["stages"].AsArray().[0]
                    let firstWall = first["wall_s"].GetValue<float>()
                    Expect.isGreaterThanOrEqual firstWall 0.019 "the first stage's wall time"

                    let line = (Stages.summaryOfFile path).Value
                    Expect.stringContains line "in all: first 0:00, second 0:00" "summary line"
                finally
                    dir.Delete true
            }

            test "a stage that only reused is marked; a job that did no work keeps the timings of the one that did" {
                let dir = Directory.CreateTempSubdirectory("stages-")
                let path = Path.Combine(dir.FullName, Stages.timingsFile)

                let names (root: JsonNode) =
                    root["stages"].AsArray()
                    |> Seq.map (fun s -> s["name"].GetValue<string>(), s["reused"].GetValue<bool>())
                    |> List.ofSeq

                try
                    // The job that trains: one stage works, one reuses, one mixes both (work wins).
                    let trained = Stages.Recorder()
                    trained.Time("pre-training", fun () -> Stages.noteWork ())
                    trained.Time("stores", fun () -> Stages.noteReused ())

                    trained.Time(
                        "ablations",
                        fun () ->
                            Stages.noteReused ()
                            Stages.noteWork ()
                    )

                    trained.Time("tables", ignore)
                    Expect.isTrue trained.DidWork "the training job did work"
                    Expect.isTrue (Stages.write path trained "train" "commit-1") "written"
                    let first = JsonNode.Parse(File.ReadAllText path)

                    Expect.equal
                        (names first)
                        [ "pre-training", false; "stores", true; "ablations", false; "tables", false ]
                        "reused only where nothing was done"

                    // A re-render: every stage reused, nothing done (a second process's that did nothing either,
                    // and stages that neither reuse nor work); the training job's record stays.
                    let second = Stages.Recorder()
                    second.Time("Late Fusion, seed 1", fun () -> Stages.noteReused ())
                    let secondFile = Path.Combine(dir.FullName, "second.json")
                    Machine.writeJson secondFile (Stages.toJson second "second" "commit-2")
                    let rendered = Stages.Recorder()
                    rendered.Time("pre-training", fun () -> Stages.noteReused ())
                    rendered.Time("waiting for the second process", ignore)

                    if Stages.didWork secondFile then
                        Stages.noteWork ()

                    for s in Stages.read secondFile do
                        rendered.Add
                            { s with
                                Name = "second process: " + s.Name
                            }

                    rendered.Time("tables", ignore)
                    Expect.isFalse rendered.DidWork "nothing done"
                    Expect.isFalse (Stages.write path rendered "render" "commit-2") "the stages were kept"
                    let kept = JsonNode.Parse(File.ReadAllText path)
                    Expect.equal (names kept) (names first) "the training job's stages"
                    Expect.equal (kept["commit"].GetValue<string>()) "commit-1" "the training job's commit"
                    Expect.equal (kept["rendered_again"].["commit"].GetValue<string>()) "commit-2" "the re-render noted"

                    // A job that does work again replaces them.
                    let again = Stages.Recorder()
                    again.Time("pre-training", fun () -> Stages.noteWork ())
                    Expect.isTrue (Stages.write path again "train" "commit-3") "written"
                    let replaced = JsonNode.Parse(File.ReadAllText path)
                    Expect.equal (replaced["commit"].GetValue<string>()) "commit-3" "replaced"
                    Expect.isNull replaced["rendered_again"] "no re-render note"

                    // No earlier file: a job that did nothing still writes its own.
                    File.Delete path
                    Expect.isTrue (Stages.write path rendered "render" "commit-2") "written when there is none"

                    Expect.equal
                        (Stages.read path
                         |> List.filter (fun s -> s.Reused)
                         |> List.map (fun s -> s.Name))
                        [ "second process: Late Fusion, seed 1"; "pre-training" ]
                        "read back"
                finally
                    dir.Delete true
            }

            test "minutes rounds to m:ss" {
                Expect.equal (Stages.minutes 0.4) "0:00" "under half a second"
                Expect.equal (Stages.minutes 59.6) "1:00" "rounded"
                Expect.equal (Stages.minutes 905.0) "15:05" "over ten minutes"
            }
        ]
