module Research.Model.Tests.CliTests

open System.IO
open System.Text.RegularExpressions
open Expecto
open Research.Commands
open Research.Commands.Cli

/// Runs a registered command with the help and error text captured: exit code, stdout text, stderr text.
let private runCaptured (commands: Command list) (name: string) (argv: string array) =
    use out = new StringWriter()
    use err = new StringWriter()
    let code = runWith out err commands name argv
    code, out.ToString(), err.ToString()

let private everyEntry =
    [ "Commands", Entry.Commands; "Benchmarks", Research.Benchmarks.Entry.Commands ]

[<Tests>]
let tests =
    testList
        "Cli"
        [
            test "edit distance counts insertions, deletions, substitutions and swaps" {
                Expect.equal (editDistance "seed" "seeds") 1 "one insertion"
                Expect.equal (editDistance "seeds" "seed") 1 "one deletion"
                Expect.equal (editDistance "runs" "rune") 1 "one substitution"
                Expect.equal (editDistance "kitten" "sitting") 3 "the textbook case"
                Expect.equal (editDistance "" "abc") 3 "from nothing"
                Expect.equal (editDistance "same" "same") 0 "equal"
                Expect.equal (editDistance "tset" "test") 1 "two neighbours swapped"
                Expect.equal (editDistance "ca" "abc") 3 "no swap shortcut across an insertion (optimal string alignment)"
            }

            test "an unknown flag gets the closest valid one, only when it is close" {
                let known =
                    [
                        "data"
                        "corpus"
                        "seeds"
                        "runs"
                        "tables"
                        "pretrain-steps"
                        "finetune-steps"
                    ]

                Expect.equal (suggest known "seed") (Some "seeds") "a missing letter"
                Expect.equal (suggest known "tabels") (Some "tables") "swapped letters"
                Expect.equal (suggest known "pretrain-step") (Some "pretrain-steps") "a long name"
                Expect.isNone (suggest known "xyz") "nothing close"
                Expect.isNone (suggest known "model") "far from every name"

                Expect.throwsC (fun () -> parse known [| "--seed"; "3" |] |> ignore) (fun e ->
                    Expect.equal e.Message (UsageError "unknown flag --seed; did you mean --seeds?").Message "the suggestion")

                Expect.throwsC (fun () -> parse known [| "--xyz"; "3" |] |> ignore) (fun e ->
                    Expect.stringContains e.Message "known: --data, --corpus" "lists the flags when none is close")
            }

            test "a run folder that does not match the request: exit 1, its message (folder, keys, --fresh), no usage" {
                use out = new StringWriter()
                use err = new StringWriter()

                let mismatch () : int =
                    raise (Research.Model.Training.RunConfigMismatchException("/runs/tf-seed1", [ "Budget.Steps" ], "Budget.Steps (2 → 3)"))

                Expect.equal (guardedWith out err "USAGE TEXT" (fun _ -> mismatch ()) [||]) (Error 1) "exit code 1"
                let text = err.ToString()
                Research.Model.Tests.DataFixtures.contains text [ "/runs/tf-seed1"; "Budget.Steps (2 → 3)"; "--fresh" ]
                Expect.isFalse (text.Contains "USAGE TEXT") "not a usage error"
                Expect.equal (out.ToString()) "" "nothing on stdout"
            }

            test "switches take no value; flags need one and may repeat" {
                let f =
                    parseWith [ "frames" ] [ "set"; "out" ] [| "--set"; "a=1"; "--frames"; "--set"; "b=2"; "--out"; "x" |]

                Expect.isTrue (f.Has "frames") "the switch"
                Expect.equal (f.Every "set") [ "a=1"; "b=2" ] "every value, in order"
                Expect.equal (f.Get("out", "")) "x" "a value"
                Expect.throws (fun () -> parse [ "out" ] [| "--out" |] |> ignore) "a flag without its value"
            }

            for entry, commands in everyEntry do
                for c in commands do
                    test $"{entry} {c.Name} answers --help with its flags' defaults and an example" {
                        let code, out, err = runCaptured commands c.Name [| "--help" |]
                        Expect.equal code 0 "exit code"
                        Expect.equal err "" "nothing on stderr"
                        Expect.stringContains out "usage: dotnet fsi scripts/" "the usage line"
                        Expect.stringContains out "example" "an example"
                        let flags = Regex.Matches(out, @"(?m)^  --").Count
                        let defaults = Regex.Matches(out, @"(?m)^  --.*\(default: [^)]").Count
                        Expect.isGreaterThan flags 0 "flags listed"
                        Expect.equal defaults flags "every flag says its default"
                    }

            test "an unknown flag exits with 2, the suggestion and the usage" {
                for commands, name, argv, suggestion in
                    [
                        Entry.Commands, "reproduce", [| "--seed"; "3" |], "did you mean --seeds?"
                        Entry.Commands, "evaluate", [| "--dev"; "a.csv"; "--tset"; "b.csv" |], "did you mean --test?"
                        Entry.Commands, "features", [| "lfbe"; "--wave"; "a.wav" |], "did you mean --wav?"
                        Entry.Commands, "embed", [| "--frame" |], "did you mean --frames?"
                        Research.Benchmarks.Entry.Commands, "bench-step", [| "--repeat"; "3" |], "did you mean --repeats?"
                    ] do
                    let code, out, err = runCaptured commands name argv
                    Expect.equal code 2 $"exit code of {name}"
                    Expect.stringContains err suggestion $"the suggestion for {name}"
                    Expect.stringContains err "usage: dotnet fsi scripts/" $"the usage of {name}"
                    Expect.equal out "" $"nothing on stdout for {name}"
            }

            test "an invalid setting from the science is a usage error too; an unknown command names the known ones" {
                let code, _, err = runCaptured Entry.Commands "pretrain" [| "--preset"; "huge" |]
                Expect.equal code 2 "exit code"
                Expect.stringContains err "--preset: unknown 'huge' (known: demo, paper)" "the message"
                Expect.stringContains err "usage: dotnet fsi scripts/pretrain.fsx" "the usage"

                let code, _, err = runCaptured Entry.Commands "bench" [||]
                Expect.equal code 2 "exit code"
                Expect.stringContains err "unknown command 'bench'" "benchmarks are not science commands"
            }

            test "explore.fsx's flags: help, defaults, an example, suggestions" {
                let usage = render Explore.usage
                Expect.stringContains usage "example" "an example"
                Expect.stringContains usage "--items N" "the flags"

                use out = new StringWriter()
                use err = new StringWriter()

                let result = guardedWith out err usage Explore.parse [| "--itemz"; "2" |]

                Expect.equal result (Error 2) "a usage error"
                Expect.stringContains (err.ToString()) "did you mean --items?" "the suggestion"
                Expect.equal (Explore.parse [| "--items"; "2"; "--png"; "no" |]).Items 2 "parsed"
            }
        ]
