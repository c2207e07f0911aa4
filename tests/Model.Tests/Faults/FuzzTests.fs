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

            test "the holes the 1,000-case run found stay fixed (its cases replayed)" {
                // Before the fixes: Kaldi case 105 (a NUL byte in wav.scp) was an ArgumentException from .NET's path
                // functions, .csd case 170 (a damaged dataset header) an OverflowException from PureHDF.
                let work =
                    IO.Path.Combine(IO.Path.GetTempPath(), $"research-fuzz-replay-{Guid.NewGuid():N}")

                try
                    for name, case in [ "kaldi data dir", 105; "csd", 170 ] do
                        let make = Fuzz.makers |> List.find (fst >> (=) name) |> snd
                        let dir = IO.Path.Combine(work, string case)
                        IO.Directory.CreateDirectory dir |> ignore
                        let target = make dir
                        let rng = Random(Fuzz.caseSeed 1 name case)
                        let f = rng.Next target.Files.Length
                        let _, bytes = Fuzz.mutate rng (IO.File.ReadAllBytes target.Files[f])
                        IO.File.WriteAllBytes(target.Files[f], bytes)
                        let e = Expect.throwsC target.Read id
                        Expect.equal (Fuzz.classify target e) Fuzz.NamedError $"{name} case {case}: {e.GetType().Name}: {e.Message}"
                finally
                    IO.Directory.Delete(work, true)
            }

            test "an .npy shape whose byte count overflows 64 bits is a named error, not an allocation" {
                let path = IO.Path.GetTempFileName()

                try
                    // 2^62 × 4 float32 = 2^66 bytes: the product wraps to 0, which an empty data part would match.
                    let dict =
                        "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"

                    let header = dict.PadRight(64 - 10 - 1) + "\n"

                    let bytes =
                        Array.concat
                            [
                                [| 0x93uy; byte 'N'; byte 'U'; byte 'M'; byte 'P'; byte 'Y'; 1uy; 0uy |]
                                BitConverter.GetBytes(uint16 header.Length)
                                Text.Encoding.ASCII.GetBytes header
                            ]

                    IO.File.WriteAllBytes(path, bytes)

                    let e =
                        Expect.throwsC (fun () -> Research.Model.Data.Npy.ReadMatrix path |> ignore) id

                    Expect.isTrue (e :? IO.InvalidDataException) $"a named error, got {e.GetType().Name}: {e.Message}"
                    Expect.stringContains e.Message path "names the file"
                finally
                    IO.File.Delete path
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
