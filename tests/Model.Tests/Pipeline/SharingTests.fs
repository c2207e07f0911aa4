/// The two processes of a job sharing training runs (Reproduce.shareForward / shareBackward), with real run folders
/// and their locks; the two processes are two threads here (a run folder's lock holds between RunFolders of one
/// process as between processes).
module Research.Model.Tests.Pipeline.SharingTests

open System
open System.Collections.Concurrent
open System.Threading
open Expecto
open Research.Model.Training
open Research.Model.Tests.DataFixtures
open Research.Model.Tests.TrainingFixtures
open Research.Experiments.Reproduce

type private Done = { Steps: int }

/// One "process": trains a run unless it is finished or another holds it; a training takes `ms` milliseconds.
let private attempt (trainedBy: ConcurrentBag<string * string>) (who: string) (ms: string -> int) (path: string) =
    try
        use run =
            RunFolder.OpenOrResume(path, {| Name = IO.Path.GetFileName path |}, 1, info)

        if run.IsFinished then
            Reused
        else
            Thread.Sleep(ms path)
            run.Finish { Steps = 1 }
            trainedBy.Add((path, who))
            Trained
    with :? RunLockedException ->
        Held

/// Runs the two processes: the first trains `first` forward then `second` backward; the second the other way round.
let private share (d: TempDir) (first: string list) (second: string list) (ms: string -> int) =
    let trainedBy = ConcurrentBag<string * string>()
    let ended = ConcurrentBag<string * string * Shared>()
    let paths = List.map d.Sub
    let notMine who w outcome = ended.Add((who, w, outcome))

    let run who mine theirs =
        Thread(fun () ->
            shareForward (attempt trainedBy who ms) (paths mine)
            shareBackward (attempt trainedBy who ms) (notMine who) (paths theirs))

    let a = run "first" first second
    let b = run "second" second first
    a.Start()
    b.Start()
    a.Join()
    b.Join()

    let byRun =
        trainedBy
        |> Seq.groupBy fst
        |> Seq.map (fun (p, ws) -> p, ws |> Seq.map snd |> List.ofSeq)
        |> Map.ofSeq

    byRun, List.ofSeq ended

[<Tests>]
let tests =
    testList
        "Pipeline.Sharing"
        [
            test "the first process, done with its own runs, takes the second's from the end; each run is trained once" {
                use d = new TempDir()
                let first = [ "f1"; "f2" ]
                let second = [ "s1"; "s2"; "s3"; "s4"; "s5"; "s6" ]
                // The second process's runs are slow: the first finishes its own long before.
                let byRun, ended =
                    share d first second (fun p -> if IO.Path.GetFileName(p).StartsWith "s" then 150 else 20)

                for name in first @ second do
                    Expect.isTrue (RunFolder.IsDone(d.Sub name)) $"{name} finished"
                    Expect.equal (byRun[d.Sub name].Length) 1 $"{name} trained exactly once"

                let takenByFirst = second |> List.filter (fun n -> byRun[d.Sub n] = [ "first" ])

                Expect.isNonEmpty takenByFirst "the first process helped"
                Expect.isTrue (List.contains "s1" (second |> List.filter (fun n -> byRun[d.Sub n] = [ "second" ]))) "s1 is the second's"
                // What the first took is an end of the second's list, so the second never waited for a run it skipped.
                Expect.equal takenByFirst (List.skip (second.Length - takenByFirst.Length) second) "a suffix"
                Expect.isTrue (first |> List.forall (fun n -> byRun[d.Sub n] = [ "first" ])) "the first's own runs"

                // The first process's backward search ended at a run held or finished by the second; the second's,
                // at once, on the first's last run (finished).
                Expect.exists ended (fun (who, _, outcome) -> who = "first" && outcome <> Trained) "the first stopped at the second's run"
                Expect.contains ended ("second", d.Sub "f2", Reused) "the second found the first's runs finished"
            }

            test "the other way round: the second process takes the first's runs from the end" {
                use d = new TempDir()
                let first = [ "f1"; "f2"; "f3"; "f4"; "f5" ]
                let second = [ "s1" ]

                let byRun, _ =
                    share d first second (fun p -> if IO.Path.GetFileName(p).StartsWith "f" then 150 else 20)

                for name in first @ second do
                    Expect.equal (byRun[d.Sub name].Length) 1 $"{name} trained exactly once"

                let takenBySecond = first |> List.filter (fun n -> byRun[d.Sub n] = [ "second" ])
                Expect.isNonEmpty takenBySecond "the second process helped"
                Expect.equal takenBySecond (List.skip (first.Length - takenBySecond.Length) first) "a suffix"
            }

            test "a run held by the other process is left to it: no stage, no error" {
                use d = new TempDir()
                let path = d.Sub "held"
                use holder = RunFolder.OpenOrResume(path, {| Name = "held" |}, 1, info)
                let trainedBy = ConcurrentBag<string * string>()
                let outcome = attempt trainedBy "other" (fun _ -> 0) path
                Expect.equal outcome Held "held"
                Expect.isEmpty trainedBy "not trained"

                Expect.throwsT<RunLockedException>
                    (fun () -> RunFolder.OpenOrResume(path, {| Name = "held" |}, 1, info).Dispose())
                    "a held run's lock is a RunLockedException"
            }
        ]
