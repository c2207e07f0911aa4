/// PNG re-encoding with a colour palette, for screenshots of text pages: Chromium writes 24-bit colour, while a page of
/// text and flat colour holds a few hundred colours (its anti-aliased edges); one byte per pixel instead of three
/// makes the file about half as large and looks the same.
module Research.Experiments.PngPalette

open System
open System.Buffers.Binary
open System.Collections.Generic
open System.IO
open System.IO.Compression
open System.Text

let private signature = [| 137uy; 80uy; 78uy; 71uy; 13uy; 10uy; 26uy; 10uy |]

let private crcTable =
    Array.init 256 (fun n ->
        let mutable c = uint32 n

        for _ in 1..8 do
            c <-
                if c &&& 1u <> 0u then
                    0xEDB88320u ^^^ (c >>> 1)
                else
                    c >>> 1

        c)

/// CRC-32 (ISO 3309, as PNG chunks use it) of a chunk's type and data.
let private crc (bytes: byte array) =
    let mutable c = 0xFFFFFFFFu

    for b in bytes do
        c <- crcTable[int ((c ^^^ uint32 b) &&& 0xFFu)] ^^^ (c >>> 8)

    c ^^^ 0xFFFFFFFFu

/// The chunks of a PNG file: (type, data), in order.
let private chunks (png: byte array) =
    if png.Length < 8 || png[0..7] <> signature then
        invalidArg "png" "not a PNG file (no PNG signature)"

    let rec read (at: int) acc =
        if at + 12 > png.Length then
            List.rev acc
        else
            let length = BinaryPrimitives.ReadInt32BigEndian(ReadOnlySpan(png, at, 4))
            let kind = Encoding.ASCII.GetString(png, at + 4, 4)
            let chunk = kind, png[at + 8 .. at + 7 + length]

            if kind = "IEND" then
                List.rev (chunk :: acc)
            else
                read (at + 12 + length) (chunk :: acc)

    read 8 []

let private paeth (a: int) (b: int) (c: int) =
    let p = a + b - c
    let pa, pb, pc = abs (p - a), abs (p - b), abs (p - c)

    if pa <= pb && pa <= pc then a
    elif pb <= pc then b
    else c

/// The pixels of an 8-bit, non-interlaced PNG as RGBA: width, height and 4 bytes per pixel, row by row. Reads
/// truecolour (with or without alpha) and palette images, the kinds Chromium and `encode` write.
let decode (png: byte array) =
    let all = chunks png
    let header = all |> List.find (fun (k, _) -> k = "IHDR") |> snd
    let width = BinaryPrimitives.ReadInt32BigEndian(ReadOnlySpan(header, 0, 4))
    let height = BinaryPrimitives.ReadInt32BigEndian(ReadOnlySpan(header, 4, 4))
    let depth, colour, interlace = header[8], header[9], header[12]

    let channels =
        match colour with
        | 2uy -> 3
        | 6uy -> 4
        | 3uy -> 1
        | c -> invalidArg "png" $"colour type {c}: only truecolour (2), truecolour with alpha (6) and palette (3) are read"

    if depth <> 8uy || interlace <> 0uy then
        invalidArg "png" $"bit depth {depth}, interlace {interlace}: only 8-bit, non-interlaced images are read"

    use compressed =
        new MemoryStream(all |> List.filter (fun (k, _) -> k = "IDAT") |> List.map snd |> Array.concat)

    use inflate = new ZLibStream(compressed, CompressionMode.Decompress)
    use raw = new MemoryStream()
    inflate.CopyTo raw
    let raw = raw.ToArray()
    let stride = width * channels

    if raw.Length <> height * (stride + 1) then
        invalidArg "png" $"{raw.Length} bytes of image data for {width} × {height} × {channels} (expected {height * (stride + 1)})"

    // undo each row's filter (PNG specification, section 9)
    let rows = Array.zeroCreate<byte>(height * stride)

    for y in 0 .. height - 1 do
        let filter = raw[y * (stride + 1)]
        let src = y * (stride + 1) + 1
        let dst = y * stride

        for i in 0 .. stride - 1 do
            let a = if i >= channels then int rows[dst + i - channels] else 0
            let b = if y > 0 then int rows[dst - stride + i] else 0

            let c =
                if y > 0 && i >= channels then
                    int rows[dst - stride + i - channels]
                else
                    0

            let x = int raw[src + i]

            let v =
                match filter with
                | 0uy -> x
                | 1uy -> x + a
                | 2uy -> x + b
                | 3uy -> x + (a + b) / 2
                | 4uy -> x + paeth a b c
                | f -> invalidArg "png" $"row {y}: unknown filter type {f}"

            rows[dst + i] <- byte (v &&& 0xFF)

    let rgba = Array.zeroCreate<byte>(width * height * 4)

    match colour with
    | 3uy ->
        let palette = all |> List.find (fun (k, _) -> k = "PLTE") |> snd

        let alpha =
            all
            |> List.tryFind (fun (k, _) -> k = "tRNS")
            |> Option.map snd
            |> Option.defaultValue [||]

        for p in 0 .. width * height - 1 do
            let e = int rows[p]
            Array.blit palette (3 * e) rgba (4 * p) 3
            rgba[4 * p + 3] <- if e < alpha.Length then alpha[e] else 255uy
    | _ ->
        for p in 0 .. width * height - 1 do
            Array.blit rows (channels * p) rgba (4 * p) channels

            if channels = 3 then
                rgba[4 * p + 3] <- 255uy

    width, height, rgba

let private chunk (out: Stream) (kind: string) (data: byte array) =
    let typed = Array.append (Encoding.ASCII.GetBytes kind) data
    let number = Array.zeroCreate<byte> 4
    BinaryPrimitives.WriteInt32BigEndian(number.AsSpan(), data.Length)
    out.Write number
    out.Write typed
    BinaryPrimitives.WriteUInt32BigEndian(number.AsSpan(), crc typed)
    out.Write number

/// A palette PNG of RGBA pixels (4 bytes each, row by row) holding at most 256 colours; more is an error.
let encode (width: int) (height: int) (rgba: byte array) =
    if rgba.Length <> width * height * 4 then
        invalidArg "rgba" $"{rgba.Length} bytes for {width} × {height} RGBA pixels"

    let colours = List<uint32>()
    let index = Dictionary<uint32, byte>()
    let indices = Array.zeroCreate<byte>(height * (width + 1)) // each row: filter type 0, then one index per pixel

    for y in 0 .. height - 1 do
        for x in 0 .. width - 1 do
            let p = y * width + x
            let key = BinaryPrimitives.ReadUInt32BigEndian(ReadOnlySpan(rgba, 4 * p, 4))

            match index.TryGetValue key with
            | true, i -> indices[y * (width + 1) + 1 + x] <- i
            | _ ->
                if colours.Count = 256 then
                    invalidArg "rgba" "more than 256 colours: quantize first"

                index[key] <- byte colours.Count
                indices[y * (width + 1) + 1 + x] <- byte colours.Count
                colours.Add key

    let header = Array.zeroCreate<byte> 13
    BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(0, 4), width)
    BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4, 4), height)
    header[8] <- 8uy // bit depth
    header[9] <- 3uy // palette
    use out = new MemoryStream()
    out.Write signature
    chunk out "IHDR" header

    chunk
        out
        "PLTE"
        [|
            for c in colours do
                yield! [| byte (c >>> 24); byte (c >>> 16); byte (c >>> 8) |]
        |]

    if colours |> Seq.exists (fun c -> c &&& 0xFFu <> 0xFFu) then
        chunk out "tRNS" [| for c in colours -> byte c |]

    use compressed = new MemoryStream()

    do
        use deflate = new ZLibStream(compressed, CompressionLevel.SmallestSize, true)
        deflate.Write indices

    chunk out "IDAT" (compressed.ToArray())
    chunk out "IEND" [||]
    out.ToArray()

/// Re-encodes a PNG with a palette of its 256 most frequent colours, each other colour drawn as the nearest of
/// those. Only when it has at most `most` colours (a text page's few hundred, not a heatmap's gradients) and the
/// result is smaller; otherwise returns the PNG unchanged.
let reduce (most: int) (png: byte array) =
    let width, height, rgba = decode png
    let counts = Dictionary<uint32, int>()

    for p in 0 .. width * height - 1 do
        let key = BinaryPrimitives.ReadUInt32BigEndian(ReadOnlySpan(rgba, 4 * p, 4))

        counts[key] <-
            (match counts.TryGetValue key with
             | true, n -> n + 1
             | _ -> 1)

    if counts.Count > most then
        png
    else
        let palette =
            counts
            |> Seq.sortByDescending (fun kv -> kv.Value)
            |> Seq.truncate 256
            |> Seq.map (fun kv -> kv.Key)
            |> Array.ofSeq

        let distance (a: uint32) (b: uint32) =
            [ 0..8..24 ]
            |> List.sumBy (fun s -> let d = int ((a >>> s) &&& 0xFFu) - int ((b >>> s) &&& 0xFFu) in d * d)

        let nearest =
            counts.Keys |> Seq.map (fun c -> c, palette |> Array.minBy (distance c)) |> dict

        let mapped = Array.copy rgba

        for p in 0 .. width * height - 1 do
            let key = BinaryPrimitives.ReadUInt32BigEndian(ReadOnlySpan(rgba, 4 * p, 4))
            BinaryPrimitives.WriteUInt32BigEndian(mapped.AsSpan(4 * p, 4), nearest[key])

        let smaller = encode width height mapped
        if smaller.Length < png.Length then smaller else png
