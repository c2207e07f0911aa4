module Research.Model.Tests.Reporting.PngPaletteTests

open System
open System.Buffers.Binary
open System.IO
open System.IO.Compression
open Expecto
open Research.Experiments

/// RGBA pixels of `colours` distinct opaque colours (pixel p gets colour p mod colours, shuffled by a seed); colour k
/// is (k, 255 - k, 7k mod 256).
let private image (width: int) (height: int) (colours: int) (seed: int) =
    let rng = Random seed

    [|
        for _ in 0 .. width * height - 1 do
            let k = rng.Next colours
            yield! [| byte k; byte (255 - k); byte (7 * k % 256); 255uy |]
    |]

/// A truecolour PNG (RGB, 8 bits) whose row y uses filter type y mod 5: the test's own encoder (the inverse of the
/// filters PngPalette.decode undoes). Chunk CRCs are left 0: the decoder does not read them.
let private truecolour (width: int) (height: int) (rgba: byte array) =
    let rgb = Array.init (width * height * 3) (fun i -> rgba[i / 3 * 4 + i % 3])

    let stride = width * 3

    let at y i =
        if y < 0 || i < 0 then 0 else int rgb[y * stride + i]

    let paeth a b c =
        let p = a + b - c

        if abs (p - a) <= abs (p - b) && abs (p - a) <= abs (p - c) then
            a
        elif abs (p - b) <= abs (p - c) then
            b
        else
            c

    let raw =
        [|
            for y in 0 .. height - 1 do
                let f = y % 5
                yield byte f

                for i in 0 .. stride - 1 do
                    let x, a, b, c = at y i, at y (i - 3), at (y - 1) i, at (y - 1) (i - 3)

                    let predicted =
                        match f with
                        | 0 -> 0
                        | 1 -> a
                        | 2 -> b
                        | 3 -> (a + b) / 2
                        | _ -> paeth a b c

                    yield byte ((x - predicted) &&& 0xFF)
        |]

    use compressed = new MemoryStream()

    do
        use z = new ZLibStream(compressed, CompressionLevel.Fastest, true)
        z.Write raw

    use out = new MemoryStream()
    out.Write [| 137uy; 80uy; 78uy; 71uy; 13uy; 10uy; 26uy; 10uy |]

    let chunk (kind: string) (data: byte array) =
        let n = Array.zeroCreate<byte> 4
        BinaryPrimitives.WriteInt32BigEndian(n.AsSpan(), data.Length)
        out.Write n
        out.Write(Text.Encoding.ASCII.GetBytes kind)
        out.Write data
        out.Write(Array.zeroCreate<byte> 4)

    let header = Array.zeroCreate<byte> 13
    BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(0, 4), width)
    BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4, 4), height)
    header[8] <- 8uy
    header[9] <- 2uy
    chunk "IHDR" header
    chunk "IDAT" (compressed.ToArray())
    chunk "IEND" [||]
    out.ToArray()

[<Tests>]
let tests =
    testList
        "Reporting.PngPalette"
        [
            test "encode then decode gives back every pixel, alpha included" {
                // 40 colours × 5 alphas: at most 200 colours
                let rgba = image 37 23 40 1

                for p in 0..13 .. 37 * 23 - 1 do
                    rgba[4 * p + 3] <- byte (p % 4 * 60)

                let w, h, back = PngPalette.decode (PngPalette.encode 37 23 rgba)
                Expect.equal (w, h) (37, 23) "size"
                Expect.equal back rgba "pixels"

                let distinct289 =
                    Array.init (17 * 17 * 4) (fun i ->
                        if i % 4 = 0 then byte (i / 4)
                        elif i % 4 = 1 then byte (i / 1024)
                        else 255uy)

                Expect.throwsT<ArgumentException> (fun () -> PngPalette.encode 17 17 distinct289 |> ignore) "289 colours"
            }

            test "decode undoes all five row filters of a truecolour PNG" {
                let rgba = image 19 11 1000 2
                let w, h, back = PngPalette.decode (truecolour 19 11 rgba)
                Expect.equal (w, h) (19, 11) "size"
                Expect.equal back rgba "pixels"
            }

            test "reduce: exact for 256 colours or fewer, nearest frequent colour beyond, unchanged above the limit" {
                let few = image 64 40 150 3
                let png = truecolour 64 40 few
                let reduced = PngPalette.reduce 1024 png
                Expect.isLessThan reduced.Length png.Length "smaller"
                Expect.equal (PngPalette.decode reduced) (64, 40, few) "exact"

                // 280 colours: 250 frequent ones and 30 that appear once (the first 30 pixels); 24 of those go
                let many = image 64 40 250 4
                let rare = 30

                for i in 0 .. rare - 1 do
                    Array.blit [| byte (10 + 8 * i); 0uy; 200uy; 255uy |] 0 many (4 * i) 4

                let _, _, back = PngPalette.decode (PngPalette.reduce 1024 (truecolour 64 40 many))

                let kept =
                    back |> Array.chunkBySize 4 |> Array.distinct |> Array.map (Array.map int)

                Expect.equal kept.Length 256 "256 colours left"
                Expect.equal back[4 * rare ..] many[4 * rare ..] "the frequent colours kept exactly"

                for i in 0 .. rare - 1 do
                    let before = many[4 * i .. 4 * i + 3] |> Array.map int
                    let after = back[4 * i .. 4 * i + 3] |> Array.map int

                    let distance (c: int array) =
                        Array.map2 (fun a b -> (a - b) * (a - b)) before c |> Array.sum

                    Expect.equal (distance after) (kept |> Array.map distance |> Array.min) $"pixel {i}: the nearest kept colour"

                let png300 = truecolour 64 40 many
                Expect.equal (PngPalette.reduce 279 png300) png300 "over the limit: unchanged"
            }
        ]
