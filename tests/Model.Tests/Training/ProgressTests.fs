module Research.Model.Tests.ProgressTests

open System
open System.IO
open Expecto
open Research.Model
open Research.Model.Training
open Research.Model.Tests.DataFixtures
open Research.Model.Tests.TrainingFixtures

let private seconds (s: float) = TimeSpan.FromSeconds s

/// A lines-mode display writing to a StringWriter, on a clock moved by hand.
let private linesDisplay (total: int64) (everySteps: int) (every: TimeSpan) =
    let clock = FakeClock()
    let out = new StringWriter()

    let progress =
        new Progress(total, ProgressOptions(Output = out, Mode = ProgressMode.Lines, EverySteps = everySteps, Every = every, Clock = clock))

    progress, out, clock

/// Runs steps first..last, each taking the given time.
let private run (progress: Progress) (clock: FakeClock) (stepTime: TimeSpan) (first: int64) (last: int64) =
    for n in first..last do
        clock.Advance stepTime
        progress.Step(step n, int (n / 10L), 12.5)

let private outputLines (out: StringWriter) =
    out.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)
    |> List.ofArray

let private stepOf (line: string) =
    line.Split(' ').[1].Split('/').[0] |> int64

[<Tests>]
let tests =
    testList
        "Training.Progress"
        [
            test "lines mode prints every N steps and at the last, with step, epoch, each loss term, lr, items/s and ETA" {
                let progress, out, clock = linesDisplay 25L 10 (TimeSpan.FromHours 1.0)
                Expect.isFalse progress.IsBar "lines"
                run progress clock (seconds 1.0) 1L 25L
                progress.Dispose()
                let printed = outputLines out
                Expect.equal (printed |> List.map stepOf) [ 10L; 20L; 25L ] "every 10 steps and the last"
                let line = printed[0]
                Expect.stringStarts line "step 10/25 (40.0%) | epoch 1 | loss 0.2500 asr 0.2000 speaker 0.0500" "step and loss terms"

                contains
                    line
                    [
                        "lr 1.00e-03"
                        "gnorm 11.25"
                        "12.5 items/s"
                        "1000 ms/step"
                        "elapsed 10s"
                        "ETA 15s"
                    ]

                Expect.isFalse (line.Contains "emotion") "a null term is not shown"
                Expect.isFalse (out.ToString().Contains "\r") "no carriage returns in lines mode"
                Expect.stringContains printed[2] "ETA 0s" "nothing left at the end"
            }

            test "lines mode also prints when the time interval has passed" {
                let progress, out, clock = linesDisplay 100L 1000 (seconds 5.0)
                run progress clock (seconds 2.0) 1L 10L
                Expect.equal (outputLines out |> List.map stepOf) [ 3L; 6L; 9L ] "every 5 s at 2 s a step"
                progress.Dispose()
                Expect.equal (outputLines out |> List.map stepOf) [ 3L; 6L; 9L; 10L ] "the last step shown on Dispose"
            }

            test "the ETA follows the recent step times, not the whole history" {
                let clock = FakeClock()
                let out = new StringWriter()

                use progress =
                    new Progress(
                        1000L,
                        ProgressOptions(
                            Output = out,
                            Mode = ProgressMode.Lines,
                            EverySteps = 10,
                            Every = TimeSpan.FromDays 1.0,
                            EtaWindow = 10,
                            Clock = clock
                        )
                    )

                run progress clock (seconds 10.0) 1L 10L
                run progress clock (seconds 1.0) 11L 20L
                let printed = outputLines out
                Expect.stringContains printed[0] "ETA 2h45m00s" "990 steps at 10 s"
                Expect.stringContains printed[1] "ETA 16m20s" "980 steps at 1 s: the slow steps have left the window"
            }

            test "EtaEstimator averages the last window of step times" {
                let eta = EtaEstimator 3
                Expect.equal (eta.Remaining 10L) (Nullable()) "unknown before the first step"
                eta.Add(seconds 1.0)
                Expect.equal (eta.Remaining 10L) (Nullable(seconds 10.0)) "one step time"
                eta.Add(seconds 2.0)
                eta.Add(seconds 3.0)
                Expect.equal eta.PerStep (Nullable(seconds 2.0)) "mean of 1, 2, 3"
                eta.Add(seconds 7.0)
                Expect.equal eta.Count 3 "window full"
                Expect.equal eta.PerStep (Nullable(seconds 4.0)) "mean of 2, 3, 7: the oldest fell out"
                Expect.equal (eta.Remaining 30L) (Nullable(seconds 120.0)) "30 steps at 4 s"
                Expect.equal (eta.Remaining -5L) (Nullable TimeSpan.Zero) "nothing left"
                Expect.throwsT<ArgumentOutOfRangeException> (fun () -> EtaEstimator 0 |> ignore) "window of at least 1"
            }

            test "durations are formatted compactly" {
                let cases =
                    [
                        0.0, "0s"
                        42.4, "42s"
                        59.6, "1m00s"
                        245.0, "4m05s"
                        3723.0, "1h02m03s"
                        2.0 * 86400.0 + 3.0 * 3600.0 + 4.0 * 60.0 + 5.0, "2d03h04m"
                    ]

                for s, expected in cases do
                    Expect.equal (Progress.FormatDuration(seconds s)) expected $"{s} s"
            }

            test "bar mode redraws one line in place; a message clears it and the bar comes back below" {
                let clock = FakeClock()
                let out = new StringWriter()

                let progress =
                    new Progress(3L, ProgressOptions(Output = out, Mode = ProgressMode.Bar, Width = 200, Clock = clock))

                Expect.isTrue progress.IsBar "bar"
                run progress clock (seconds 1.0) 1L 2L
                progress.Message "checkpoint saved"
                run progress clock (seconds 1.0) 3L 3L
                progress.Dispose()
                let text = out.ToString()
                Expect.stringStarts text "\rstep 1/3" "drawn with a carriage return"
                Expect.stringContains text "\rstep 2/3" "redrawn in place"
                let beforeMessage = text.Substring(0, text.IndexOf "checkpoint saved")
                Expect.stringEnds beforeMessage "\r" "the bar is cleared before the message"
                Expect.stringContains text "checkpoint saved\n\rstep 2/3" "the message on its own line, the bar redrawn after it"
                Expect.stringEnds text "ETA 0s\n" "the last step drawn, then the line ended"
                Expect.equal (text.Split('\n').Length) 3 "only the message and the end break lines"
            }

            test "bar mode keeps within the width and pads over a longer previous line" {
                let out = new StringWriter()

                use progress =
                    new Progress(10L, ProgressOptions(Output = out, Mode = ProgressMode.Bar, Width = 40, BarRefresh = TimeSpan.Zero))

                progress.Step(step 1L, 0, 1.0)
                progress.Message "x"

                let drawn =
                    out.ToString().Split('\r') |> Array.filter (fun s -> s.StartsWith "step")

                Expect.isTrue (drawn |> Array.forall (fun s -> s.Length <= 40)) "never wider than the width"
                Expect.stringEnds drawn[0] "…" "cut lines end in an ellipsis"
            }

            test "lines mode messages are plain lines" {
                let progress, out, clock = linesDisplay 10L 5 (TimeSpan.FromHours 1.0)
                run progress clock (seconds 1.0) 1L 5L
                progress.Evaluation(5L, readOnlyDict [ "f1", 0.612; "wa", 0.64 ], "valid")
                progress.Message "done"
                run progress clock (seconds 1.0) 6L 6L
                progress.Dispose()
                let printed = outputLines out
                Expect.equal printed.Length 4 "step 5, evaluation, message, last step"
                Expect.equal printed[1] "eval valid @ step 5: f1 0.6120, wa 0.6400" "evaluation line"
                Expect.equal printed[2] "done" "message"
                Expect.stringStarts printed[3] "step 6/10" "the last step, shown on Dispose"
            }
        ]
