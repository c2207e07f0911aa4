module Research.Model.Tests.Data.IntervalOverlapTests

open Expecto
open Research.Model.Data

[<Tests>]
let tests =
    testList
        "Data.IntervalOverlap"
        [
            test "touching intervals do not overlap; sharing time or an instant strictly inside does" {
                let span = 1.0, 2.0

                let cases =
                    [
                        (0.5, 1.0), false // ends where the span starts
                        (2.0, 2.5), false // starts where the span ends
                        (1.0, 1.0), false // an instant on the start
                        (2.0, 2.0), false // an instant on the end
                        (1.5, 1.5), true // an instant inside
                        (0.5, 1.25), true
                        (1.75, 3.0), true
                        (0.0, 3.0), true // contains the span
                        (1.0, 2.0), true // equals it
                        (0.0, 0.5), false
                    ]

                for (s, e), want in cases do
                    Expect.equal (IntervalOverlap.Overlaps(s, e, fst span, snd span)) want $"[{s}, {e}] vs [1, 2]"
            }

            test "rows come back in row order and take copies exactly those rows" {
                let iv =
                    array2D [ [ 2.0; 3.0 ]; [ 0.0; 1.0 ]; [ 1.0; 2.0 ]; [ 1.5; 1.5 ]; [ 0.9; 1.1 ] ]

                let rows = IntervalOverlap.Rows(iv, 1.0, 2.0)
                Expect.equal rows [| 2; 3; 4 |] "rows"
                let x = Array2D.init 5 3 (fun i j -> float32 (10 * i + j))
                let taken = IntervalOverlap.Take(x, rows)
                Expect.equal (Array2D.length1 taken, Array2D.length2 taken) (3, 3) "shape"

                for r in 0..2 do
                    for j in 0..2 do
                        Expect.equal taken[r, j] x[rows[r], j] $"row {r} column {j}"
            }

            test "a segment with no overlapping row gives no rows" {
                Expect.isEmpty (IntervalOverlap.Rows(array2D [ [ 0.0; 1.0 ]; [ 2.0; 3.0 ] ], 1.0, 2.0)) "gap"
            }
        ]
