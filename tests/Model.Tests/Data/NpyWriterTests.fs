module Research.Model.Tests.NpyWriterTests

open System
open System.IO
open Expecto
open Research.Model.Data
open Research.Model.Tests.DataFixtures

[<Tests>]
let tests =
    testList
        "Data.NpyWriter"
        [
            test "streamed rows give the same bytes as Npy.Write, and read back" {
                use d = new TempDir()
                let rng = Random 5
                let data = Array2D.init 37 11 (fun _ _ -> float32 (rng.NextDouble() - 0.5))
                let whole = d.Sub "whole.npy"
                Npy.Write(whole, data)
                let streamed = d.Sub "streamed.npy"

                do
                    use s = File.Create streamed
                    let w = NpyWriter(s, 37L, 11)
                    w.WriteRows(Array2D.init 20 11 (fun i j -> data[i, j]))

                    for i in 20..36 do
                        w.WriteRow(ReadOnlySpan [| for j in 0..10 -> data[i, j] |])

                    w.Complete()

                Expect.equal (File.ReadAllBytes streamed) (File.ReadAllBytes whole) "same bytes"
                Expect.equal (Npy.ReadMatrix streamed) data "reads back"
            }

            test "the header is padded to 64 bytes for any shape" {
                for rows, cols in [ 0L, 1; 1L, 512; 123456789L, 4096 ] do
                    let h = NpyWriter.Header(rows, cols)
                    Expect.equal (h.Length % 64) 0 $"({rows}, {cols}) header length"
                    Expect.equal h[h.Length - 1] (byte '\n') "ends in a newline"
            }

            test "too few or too many rows, or a row of the wrong width, are errors" {
                use s = new MemoryStream()
                let w = NpyWriter(s, 2L, 3)
                w.WriteRow(ReadOnlySpan [| 1f; 2f; 3f |])

                let few = messageOf<InvalidOperationException>(fun () -> w.Complete())
                contains few [ "2 rows"; "1 were written" ]

                let wide =
                    messageOf<ArgumentException>(fun () -> w.WriteRow(ReadOnlySpan [| 1f; 2f |]))

                contains wide [ "2 values"; "3 columns" ]
                w.WriteRow(ReadOnlySpan [| 4f; 5f; 6f |])

                let many =
                    messageOf<InvalidOperationException>(fun () -> w.WriteRow(ReadOnlySpan [| 7f; 8f; 9f |]))

                contains many [ "2 rows"; "one too many" ]
                w.Complete()
            }
        ]
