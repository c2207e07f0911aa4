module Research.Model.Tests.MetricsLogTests

open System
open System.IO
open System.Text
open Expecto
open Research.Model
open Research.Model.Training
open Research.Model.Tests.DataFixtures
open Research.Model.Tests.TrainingFixtures

let private lines (path: string) =
    File.ReadAllText path
    |> fun t -> t.Split('\n', StringSplitOptions.RemoveEmptyEntries) |> List.ofArray

/// A log with steps 1..n and an evaluation after every second step.
let private writeSteps (log: MetricsLog) (first: int64) (last: int64) =
    for n in first..last do
        log.Step(step n, int (n / 3L), 10.0 * float n)

        if n % 2L = 0L then
            log.Evaluation(n, readOnlyDict [ "f1", 0.1 * float n; "wa", 0.5 ], "valid")

let private stepsOf (path: string) =
    [ for s in (MetricsLog.Read path).Steps -> s.Step ]

let private evaluationsOf (path: string) =
    [ for e in (MetricsLog.Read path).Evaluations -> e.Step ]

let private tempLeftovers (folder: string) =
    Directory.GetFiles folder
    |> Array.map Path.GetFileName
    |> Array.filter (fun n -> n.EndsWith ".tmp")

[<Tests>]
let tests =
    testList
        "Training.MetricsLog"
        [
            test "step and evaluation lines round trip, each loss term on its own, null terms omitted" {
                use d = new TempDir()
                let path = d.Sub "log.jsonl"
                let clock = FakeClock()

                let withEmotion =
                    StepResult(2L, 3e-4, 1.5, Nullable(), Nullable(), Nullable 0.75, infinity, 12.5)

                do
                    use log = MetricsLog.Open(path, clock)
                    log.Step(step 1L, 0, 9.5)
                    clock.Advance(TimeSpan.FromSeconds 1.0)
                    log.Step(withEmotion, 1, 8.0)
                    log.Evaluation(2L, readOnlyDict [ "wa", 0.64; "f1", nan ], "valid")

                let raw = lines path
                Expect.equal raw.Length 3 "one line per call"
                Expect.stringStarts raw[0] """{"kind":"step","step":1,"epoch":0,""" "step line"

                contains
                    raw[0]
                    [
                        "\"loss\":2.5"
                        "\"loss_asr\":2"
                        "\"loss_speaker\":0.5"
                        "\"lr\":0.0001"
                        "\"grad_norm\":2.25"
                        "\"ms\":801"
                    ]

                Expect.isFalse (raw[0].Contains "loss_emotion") "a null term has no key"
                Expect.isFalse (raw[1].Contains "loss_asr") "a null term has no key"
                contains raw[1] [ "\"grad_norm\":\"Infinity\"" ]
                Expect.stringStarts raw[2] """{"kind":"eval","step":2,"split":"valid",""" "eval line"
                contains raw[2] [ "\"metrics\":{\"wa\":0.64,\"f1\":\"NaN\"}" ]

                let read = MetricsLog.Read path
                Expect.isFalse read.TornLastLine "complete"
                Expect.equal [ for s in read.Steps -> s.Result ] [ step 1L; withEmotion ] "step results round trip exactly"
                Expect.equal [ for s in read.Steps -> s.Epoch, s.ItemsPerSecond ] [ 0, 9.5; 1, 8.0 ] "epoch and items/s"
                Expect.equal read.Steps[1].Time (clock.GetUtcNow()) "time stamps"
                let e = read.Evaluations |> Seq.exactlyOne
                Expect.equal (e.Step, e.Split) (2L, "valid") "evaluation"
                Expect.equal e.Metrics["wa"] 0.64 "metric"
                Expect.isTrue (Double.IsNaN e.Metrics["f1"]) "NaN metric"
            }

            test "every line reaches the file at once, readable while the log is open" {
                use d = new TempDir()
                let path = d.Sub "log.jsonl"
                use log = MetricsLog.Open path
                log.Step(step 1L, 0, 1.0)
                Expect.equal (stepsOf path) [ 1L ] "first line visible"
                log.Step(step 2L, 0, 1.0)
                Expect.equal (stepsOf path) [ 1L; 2L ] "second line visible"
                Expect.isTrue (File.ReadAllText(path).EndsWith "\n") "lines end in newlines"
            }

            test "a torn last line is left out by readers and dropped when the log is reopened" {
                use d = new TempDir()
                let path = d.Sub "log.jsonl"

                do
                    use log = MetricsLog.Open path
                    writeSteps log 1L 3L

                let whole = File.ReadAllText path
                File.AppendAllText(path, """{"kind":"step","step":4,"epoch":1,"ti""")
                let read = MetricsLog.Read path
                Expect.isTrue read.TornLastLine "torn line reported"
                Expect.equal [ for s in read.Steps -> s.Step ] [ 1L; 2L; 3L ] "complete lines read"

                do
                    use log = MetricsLog.Open path
                    Expect.equal (File.ReadAllText path) whole "torn tail dropped on open"
                    Expect.equal log.LastStep 3L "last step"
                    log.Step(step 4L, 1, 1.0)

                Expect.equal (stepsOf path) [ 1L; 2L; 3L; 4L ] "appending after the repair gives a clean log"
                Expect.isEmpty (tempLeftovers d.Path) "no temporary files"
            }

            test "TruncateAfter keeps exactly the lines with step <= S, survives a torn last line, and the log continues" {
                use d = new TempDir()
                let path = d.Sub "log.jsonl"
                use log = MetricsLog.Open path
                writeSteps log 1L 10L

                let keptText =
                    (lines path |> List.take 9 |> List.map (fun l -> l + "\n") |> String.concat "")

                File.AppendAllText(path, """{"kind":"eval","step":10,"sp""")
                let dropped = log.TruncateAfter 6L
                Expect.equal dropped 7 "4 steps, 2 evaluations and the torn line dropped"
                Expect.equal (File.ReadAllText path) keptText "the kept lines are byte for byte the old ones"
                Expect.equal (stepsOf path) [ 1L .. 6L ] "steps <= 6"
                Expect.equal (evaluationsOf path) [ 2L; 4L; 6L ] "evaluations <= 6, the one at 6 included"
                Expect.isFalse (MetricsLog.Read path).TornLastLine "torn line gone"
                Expect.equal log.LastStep 6L "last step"
                Expect.isEmpty (tempLeftovers d.Path) "no temporary files"
                writeSteps log 7L 8L
                Expect.equal (stepsOf path) [ 1L .. 8L ] "the log continues after the checkpoint"
                Expect.equal (log.TruncateAfter 8L) 0 "nothing after the last step"
                Expect.equal (log.TruncateAfter 0L) 12 "everything"
                Expect.equal (File.ReadAllText path) "" "empty"
            }

            test "a step at or before the last logged step is refused until the log is truncated" {
                use d = new TempDir()
                use log = MetricsLog.Open(d.Sub "log.jsonl")
                writeSteps log 1L 5L
                contains (messageOf<InvalidOperationException>(fun () -> log.Step(step 3L, 0, 1.0))) [ "step 3"; "step 5"; "TruncateAfter" ]
                log.TruncateAfter 2L |> ignore
                log.Step(step 3L, 0, 1.0)
                Expect.equal (stepsOf (d.Sub "log.jsonl")) [ 1L; 2L; 3L ] "resumed at 3"
            }

            test "a malformed line before the last is an error naming the file and line" {
                use d = new TempDir()

                let path =
                    d.Write(
                        "log.jsonl",
                        [
                            """{"kind":"step","step":1,"epoch":0,"time":"2025-01-01T00:00:00Z","loss":1,"lr":0.1,"grad_norm":1,"ms":1,"items_per_s":1}"""
                            """{"kind":"step","step":2,"""
                            """{"kind":"eval","step":2,"split":"valid","time":"2025-01-01T00:00:00Z","metrics":{}}"""
                        ]
                    )

                contains (messageOf<InvalidDataException>(fun () -> MetricsLog.Read path |> ignore)) [ path; "line 2" ]
                contains (messageOf<InvalidDataException>(fun () -> MetricsLog.Open(path).Dispose())) [ path; "line 2" ]
                File.WriteAllText(path, """{"kind":"step","step":1}""" + "\n")
                contains (messageOf<InvalidDataException>(fun () -> MetricsLog.Read path |> ignore)) [ "line 1"; "missing key" ]
            }

            test "writes after Dispose throw" {
                use d = new TempDir()
                let log = MetricsLog.Open(d.Sub "log.jsonl")
                log.Dispose()
                Expect.throwsT<InvalidOperationException> (fun () -> log.Step(step 1L, 0, 1.0)) "disposed"
                Expect.equal (Encoding.UTF8.GetByteCount(File.ReadAllText(d.Sub "log.jsonl"))) 0 "empty log"
            }
        ]
