/// Where the committed audio references live (made by tests/references/audio/make_references.py), and helpers
/// the audio and data tests share: WAV bytes built by hand, temporary folders, array comparisons.
module Research.Model.Tests.Audio.References

open System
open System.IO
open System.Text
open Research.Model.Data

/// The repository root (the folder holding Research.sln).
let repoRoot = Research.Model.Tests.ReferenceFiles.root.Value

/// A file under tests/references/audio.
let file (name: string) =
    Path.Combine(repoRoot, "tests", "references", "audio", name)

/// The three espeak-ng utterances.
let utterances = [ "utt1"; "utt2"; "utt3" ]

/// A torchaudio reference matrix (frames × dims).
let reference (name: string) = Npy.ReadMatrix(file name)

/// A fresh temporary folder, deleted after the action.
let withTempDir (action: string -> unit) =
    let dir = Path.Combine(Path.GetTempPath(), $"audio-tests-{Guid.NewGuid():N}")
    Directory.CreateDirectory dir |> ignore

    try
        action dir
    finally
        Directory.Delete(dir, true)

/// Largest |a - b| over two matrices of the same shape.
let maxAbsDiff (a: float32[,]) (b: float32[,]) =
    if Array2D.length1 a <> Array2D.length1 b || Array2D.length2 a <> Array2D.length2 b then
        failwithf "shapes differ: %dx%d vs %dx%d" (Array2D.length1 a) (Array2D.length2 a) (Array2D.length1 b) (Array2D.length2 b)

    let mutable m = 0.0

    for i in 0 .. Array2D.length1 a - 1 do
        for j in 0 .. Array2D.length2 a - 1 do
            m <- max m (abs (float a[i, j] - float b[i, j]))

    m

/// Largest |a - b| over two vectors of the same length.
let maxAbsDiffVec (a: float32[]) (b: float32[]) =
    if a.Length <> b.Length then
        failwithf "lengths differ: %d vs %d" a.Length b.Length

    Array.fold2 (fun m (x: float32) (y: float32) -> max m (abs (float x - float y))) 0.0 a b

/// A RIFF chunk: id, body, and the pad byte when the body's length is odd.
let chunk (id: string) (body: byte[]) =
    [|
        yield! Encoding.ASCII.GetBytes id
        yield! BitConverter.GetBytes(uint32 body.Length)
        yield! body
        if body.Length % 2 = 1 then
            yield 0uy
    |]

/// A 16-byte 'fmt ' body.
let fmtBody (tag: int) (channels: int) (rate: int) (bits: int) =
    let blockAlign = channels * bits / 8

    [|
        yield! BitConverter.GetBytes(uint16 tag)
        yield! BitConverter.GetBytes(uint16 channels)
        yield! BitConverter.GetBytes(uint32 rate)
        yield! BitConverter.GetBytes(uint32 (rate * blockAlign))
        yield! BitConverter.GetBytes(uint16 blockAlign)
        yield! BitConverter.GetBytes(uint16 bits)
    |]

/// A 40-byte WAVE_FORMAT_EXTENSIBLE 'fmt ' body with sub-format PCM (1) or float (3).
let fmtExtensibleBody (subFormat: int) (channels: int) (rate: int) (bits: int) =
    [|
        yield! fmtBody 0xFFFE channels rate bits
        yield! BitConverter.GetBytes 22us
        yield! BitConverter.GetBytes(uint16 bits)
        yield! BitConverter.GetBytes 0u // channel mask
        yield! BitConverter.GetBytes(uint16 subFormat)
        yield!
            [|
                0x00uy
                0x00uy
                0x00uy
                0x00uy
                0x10uy
                0x00uy
                0x80uy
                0x00uy
                0x00uy
                0xAAuy
                0x00uy
                0x38uy
                0x9Buy
                0x71uy
            |]
    |]

/// A RIFF/WAVE file of the given chunks.
let riff (chunks: byte[] list) =
    let body = Array.concat chunks

    [|
        yield! Encoding.ASCII.GetBytes "RIFF"
        yield! BitConverter.GetBytes(uint32 (4 + body.Length))
        yield! Encoding.ASCII.GetBytes "WAVE"
        yield! body
    |]

/// Little-endian bytes of 16-bit samples.
let int16Bytes (samples: int16 seq) =
    samples |> Seq.collect BitConverter.GetBytes |> Array.ofSeq

/// Little-endian bytes of 32-bit float samples.
let float32Bytes (samples: float32 seq) =
    samples |> Seq.collect BitConverter.GetBytes |> Array.ofSeq

/// A plain 16-bit PCM WAV of the given samples.
let wav16 (rate: int) (channels: int) (samples: int16 seq) =
    riff [ chunk "fmt " (fmtBody 1 channels rate 16); chunk "data" (int16Bytes samples) ]

/// A sine of amplitude a and frequency f (Hz) sampled at rate for n samples.
let sine (a: float) (f: float) (rate: int) (n: int) =
    Array.init n (fun i -> float32 (a * sin (2.0 * Math.PI * f * float i / float rate)))

/// Pearson correlation of two equally long vectors.
let pearson (x: float[]) (y: float[]) =
    let mx = Array.average x
    let my = Array.average y
    let cov = Array.fold2 (fun s a b -> s + (a - mx) * (b - my)) 0.0 x y
    let vx = x |> Array.sumBy (fun a -> (a - mx) * (a - mx))
    let vy = y |> Array.sumBy (fun b -> (b - my) * (b - my))
    cov / sqrt (vx * vy)
