/// The fuzz half of the fault suite (issue #13) on small counts: every mutated input of every reader ends in success
/// or a named error of ours, within the time limit (src/Benchmarks.FSharp/Fuzz.fs; `bench.fsx --parts faults` runs
/// 1,000 per reader).
module Research.Model.Tests.Faults.FuzzTests

open System
open Expecto
open Research.Benchmarks

/// Cases per reader in the default test run (a few seconds in all).
let private cases = 60

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Faults.Fuzz"
        [
            test "mutations are reproducible from the seed and change the input" {
                let original = Fuzz.wavBytes ()

                let draw i =
                    Fuzz.mutate (Random(Fuzz.caseSeed 5 "wav" i)) original

                for i in 0..49 do
                    let m1, b1 = draw i
                    let m2, b2 = draw i
                    Expect.equal m1 m2 "same seed, same mutation"
                    Expect.equal b1 b2 "same seed, same bytes"

                let kinds = [ for i in 0..199 -> (fst (draw i)).Kind ] |> List.distinct |> List.sort
                Expect.equal kinds (List.sort Fuzz.kinds) "every mutation kind is drawn"
            }

            test "a foreign exception, an unnamed error and a named one are told apart" {
                let target: Fuzz.Target =
                    {
                        Name = "x"
                        Files = [||]
                        Names = [ "/data/a.wav" ]
                        Read = ignore
                    }

                Expect.equal (Fuzz.classify target (IndexOutOfRangeException())) Fuzz.Foreign "foreign"
                Expect.equal (Fuzz.classify target (IO.InvalidDataException "bad header")) Fuzz.UnnamedError "unnamed"

                Expect.equal (Fuzz.classify target (IO.InvalidDataException "/data/a.wav: bad header")) Fuzz.NamedError "named"

                Expect.equal
                    (Fuzz.classify target (IO.EndOfStreamException "/data/a.wav: cut"))
                    Fuzz.Foreign
                    "EndOfStream is not ours, named or not"
            }

            for name, make in Fuzz.makers do
                test $"{cases} mutated inputs of the {name} reader end in success or a named error, none hangs" {
                    let reports = Fuzz.run cases 1 (TimeSpan.FromSeconds 10.0) [ name ]
                    let r = List.exactlyOne reports
                    Expect.equal r.Cases.Length cases "every case ran"

                    let holes =
                        [
                            for h in r.Holes ->
                                $"case {h.Number} ({h.File}, {h.Mutation.Description}): {Fuzz.outcomeName h.Outcome}: {h.Error}"
                        ]

                    Expect.isEmpty holes "holes"
                    // Most mutations must be refused: a reader that accepts everything checks nothing.
                    let accepted =
                        r.Cases |> List.filter (fun c -> c.Outcome = Fuzz.Accepted) |> List.length

                    Expect.isLessThan accepted (cases * 3 / 4) "most mutated inputs are refused"
                }
        ]
