/// A tiny pre-training corpus on disk: a Kaldi data dir of real audio (the espeak-ng references, and loud sines for
/// the held-out utterances), precomputed video features (.npy) and a 3-d GloVe file.
module Research.Model.Tests.Data.PretrainingFixtures

open System
open System.IO
open System.Text.Json
open Research.Model.Audio
open Research.Model.Data
open Research.Model.Tests.Audio.References

/// A 16 kHz, 16-bit mono WAV of a sine (frequency in Hz, amplitude of full scale, seconds).
let writeSine (path: string) (frequency: float) (amplitude: float) (seconds: float) =
    let n = int (16000.0 * seconds)

    let samples =
        Seq.init n (fun i -> int16 (amplitude * 32767.0 * sin (2.0 * Math.PI * frequency * float i / 16000.0)))

    File.WriteAllBytes(path, riff [ chunk "fmt " (fmtBody 1 1 16000 16); chunk "data" (int16Bytes samples) ])

/// Utterances (id, speaker, transcript, audio): per speaker the last by id (c) is held out and is a loud sine, so
/// that its own statistics are far from the training split's (speech).
let utterancesOf (folder: string) =
    [
        "s1-a", "s1", "hello world", "utt1.wav"
        "s1-b", "s1", "good morning", "utt2.wav"
        "s1-c", "s1", "hello again", "sine-a.wav"
        "s2-a", "s2", "world again", "utt3.wav"
        "s2-b", "s2", "good world", "utt1b.wav"
        "s2-c", "s2", "morning hello", "sine-b.wav"
    ]
    |> List.map (fun (id, speaker, text, wav) -> id, speaker, text, Path.Combine(folder, "audio", wav))

/// Writes the corpus under folder (audio/, video/, data/, glove.txt); returns (data dir, glove path).
let writeCorpus (folder: string) =
    let audio = Path.Combine(folder, "audio")
    let video = Path.Combine(folder, "video")
    Directory.CreateDirectory audio |> ignore
    Directory.CreateDirectory video |> ignore

    for name in [ "utt1"; "utt2"; "utt3" ] do
        File.Copy(file (name + ".wav"), Path.Combine(audio, name + ".wav"))

    File.Copy(file "utt1.wav", Path.Combine(audio, "utt1b.wav"))
    writeSine (Path.Combine(audio, "sine-a.wav")) 440.0 0.8 0.6
    writeSine (Path.Combine(audio, "sine-b.wav")) 1500.0 0.5 0.5

    let glove = Path.Combine(folder, "glove.txt")

    File.WriteAllLines(
        glove,
        [
            "hello 0.1 0.2 0.3"
            "world 0.4 0.5 0.6"
            "good 0.7 0.8 0.9"
            "morning 1.0 1.1 1.2"
            "again 1.3 1.4 1.5"
        ]
    )

    let utterances =
        [
            for id, speaker, text, wav in utterancesOf folder ->
                let npy = Path.Combine(video, id + ".npy")
                Npy.Write(npy, Array2D.init 3 4 (fun i j -> float32 (i + j) / 10f))
                Utterance(id, speaker, text, wav, npy)
        ]

    let data = Path.Combine(folder, "data")
    KaldiDataDir.Write(data, utterances)
    data, glove

/// The front end of the tiny corpus: 2 × 2 grey-level video features, no stacking (rows are LFBE frames).
let frontEnd (glove: string) (cmvn: CmvnMode) =
    FrontEndOptions(WordVectors = glove, VisualSide = 2, Stack = 1, Cmvn = cmvn)

/// Column means and population variances of the rows of several matrices taken together.
let pooledStats (matrices: float32[,] list) =
    let dim = Array2D.length2 matrices.Head
    let rows = matrices |> List.sumBy Array2D.length1

    let mean =
        Array.init dim (fun d ->
            (matrices
             |> List.sumBy (fun m -> Seq.sum (seq { for i in 0 .. Array2D.length1 m - 1 -> float m[i, d] })))
            / float rows)

    let variance =
        Array.init dim (fun d ->
            (matrices
             |> List.sumBy (fun m -> Seq.sum (seq { for i in 0 .. Array2D.length1 m - 1 -> (float m[i, d] - mean[d]) ** 2.0 })))
            / float rows)

    mean, variance

/// Replaces the transcript of one utterance of a data dir's text file by nothing.
let emptyTranscript (data: string) (id: string) =
    let text = Path.Combine(data, "text")

    File.WriteAllLines(
        text,
        File.ReadAllLines text
        |> Array.map (fun l -> if l.StartsWith(id + " ") then id else l)
    )

/// (stage, id, file, reason) of every item of a saved skip report (SkipReport.Save).
let reportItems (path: string) =
    use json = JsonDocument.Parse(File.ReadAllText path)

    [
        for i in json.RootElement.GetProperty("items").EnumerateArray() ->
            i.GetProperty("stage").GetString(),
            i.GetProperty("id").GetString(),
            i.GetProperty("file").GetString(),
            i.GetProperty("reason").GetString()
    ]

/// The arguments of `features.fsx pretrain` on the tiny corpus (2 x 2 grey-level video features), then `extra`.
let pretrainArgs (data: string) (store: string) (glove: string) (extra: string list) =
    [
        "pretrain"
        "--data"
        data
        "--out"
        store
        "--glove"
        glove
        "--visual-side"
        "2"
    ]
    @ extra
