module Research.Model.Tests.Data.NpyTests

open System
open System.IO
open Expecto
open Research.Model.Data
open Research.Model.Tests.Audio.References

let private fixture (name: string) = file (Path.Combine("npy", name))

/// The 3 x 4 matrix make_references.py saved: arange(12) * 0.5 - 1.25, row-major.
let private expected3x4 =
    Array2D.init 3 4 (fun i j -> float32 (float (4 * i + j) * 0.5 - 1.25))

let private vector5 = [| 1.5f; -2.0f; 3.25f; 1e-8f; 6.0e20f |]

let private expectInvalid (path: string) (fragment: string) =
    Expect.throwsC (fun () -> Npy.ReadMatrix path |> ignore) (fun e ->
        Expect.isTrue (e :? InvalidDataException) $"InvalidDataException, got {e.GetType().Name}"
        Expect.stringContains e.Message path "names the file"
        Expect.stringContains e.Message fragment "says what was found")

[<Tests>]
let tests =
    testList
        "Data.Npy"
        [
            test "reads numpy's float32 and float64 matrices, 1-D vectors (as n x 1), format 2.0 and empty arrays" {
                Expect.equal (Npy.ReadMatrix(fixture "f4_3x4.npy")) expected3x4 "<f4 3x4"
                Expect.equal (Npy.ReadMatrix(fixture "f8_3x4.npy")) expected3x4 "<f8 3x4"
                Expect.equal (Npy.ReadMatrix(fixture "f4_3x4.v2.npy")) expected3x4 "version 2.0"
                let column = Array2D.init 5 1 (fun i _ -> vector5[i])
                Expect.equal (Npy.ReadMatrix(fixture "f4_5.npy")) column "<f4 (5,)"
                Expect.equal (Npy.ReadMatrix(fixture "f8_5.npy")) column "<f8 (5,)"
                let empty = Npy.ReadMatrix(fixture "f4_0x3.npy")
                Expect.equal (Array2D.length1 empty, Array2D.length2 empty) (0, 3) "shape (0, 3)"
            }

            test "writes byte for byte what numpy's np.save writes" {
                withTempDir (fun dir ->
                    let matrix = Path.Combine(dir, "m.npy")
                    Npy.Write(matrix, expected3x4)
                    Expect.equal (File.ReadAllBytes matrix) (File.ReadAllBytes(fixture "f4_3x4.npy")) "2-D"
                    let vector = Path.Combine(dir, "v.npy")
                    Npy.Write(vector, vector5)
                    Expect.equal (File.ReadAllBytes vector) (File.ReadAllBytes(fixture "f4_5.npy")) "1-D")
            }

            test "write then read round-trips any float32 values; the header is a multiple of 64 bytes" {
                withTempDir (fun dir ->
                    let rng = Random 5

                    for rows, columns in [ 1, 1; 7, 200; 281, 40; 0, 40 ] do
                        let m =
                            Array2D.init rows columns (fun _ _ -> BitConverter.Int32BitsToSingle(rng.Next(0, 0x7F000000)) * -1.0f)

                        let path = Path.Combine(dir, $"{rows}x{columns}.npy")
                        Npy.Write(path, m)
                        Expect.equal (Npy.ReadMatrix path) m $"{rows}x{columns}"
                        let bytes = File.ReadAllBytes path
                        let headerLength = int (BitConverter.ToUInt16(bytes, 8))
                        Expect.equal ((10 + headerLength) % 64) 0 "aligned data"
                        Expect.equal (bytes.Length - 10 - headerLength) (4 * rows * columns) "data size"

                    Expect.equal (Directory.GetFiles dir).Length 4 "no temporary files left")
            }

            test "Fortran order, other dtypes, big-endian, 3-D arrays are errors naming the file" {
                expectInvalid (fixture "f4_3x4.fortran.npy") "Fortran"
                expectInvalid (fixture "i4_3x4.npy") "dtype '<i4'"
                expectInvalid (fixture "f4_3x4.bigendian.npy") "dtype '>f4'"
                expectInvalid (fixture "f4_2x2x2.npy") "3 dimensions"
            }

            test "truncated data, trailing bytes and a bad magic string are errors naming the file" {
                withTempDir (fun dir ->
                    let bytes = File.ReadAllBytes(fixture "f4_3x4.npy")
                    let truncated = Path.Combine(dir, "truncated.npy")
                    File.WriteAllBytes(truncated, bytes[.. bytes.Length - 2])
                    expectInvalid truncated "truncated: shape (3, 4) of '<f4' needs 48 data bytes, the file has 47"
                    let longer = Path.Combine(dir, "longer.npy")
                    File.WriteAllBytes(longer, Array.append bytes [| 0uy |])
                    expectInvalid longer "trailing bytes"
                    let magic = Path.Combine(dir, "magic.npy")
                    File.WriteAllBytes(magic, Array.append "PK"B bytes[2..])
                    expectInvalid magic "not a .npy file"
                    let header = Path.Combine(dir, "header.npy")
                    File.WriteAllBytes(header, bytes[..40])
                    expectInvalid header "truncated .npy header")
            }

            test "a write into a missing folder fails without leaving anything" {
                withTempDir (fun dir ->
                    let path = Path.Combine(dir, "missing", "x.npy")

                    Expect.throwsC (fun () -> Npy.Write(path, [| 1.0f |])) (fun e -> Expect.stringContains e.Message path "names the file")

                    Expect.isEmpty (Directory.GetFileSystemEntries dir) "nothing written")
            }
        ]
