module Research.Model.Tests.Demo.DemoGeneratorTests

open System
open System.Collections.Generic
open System.IO
open Expecto
open Research.Model
open Research.Model.Demo
open Research.Model.Text

let private mouthRegion (image: float32 array) (size: int) =
    // Rows around the mouth (y ≈ 0.72 of the height), central columns.
    [
        for row in int (0.66 * float size) .. int (0.8 * float size) do
            for col in int (0.4 * float size) .. int (0.6 * float size) -> image[row * size + col]
    ]

[<Tests>]
let tests =
    testList
        "Demo.Generator"
        [
            test "every sentence the grammar makes can be encoded for ASR and is mostly in the word list" {
                let rng = Random 1
                let vocabulary = HashSet(DemoGrammar.Vocabulary())

                for _ in 1..500 do
                    let cues = Array.init 6 (fun _ -> rng.NextDouble() < 0.3)
                    let s = DemoGrammar.EmotionalSentence(rng, cues)
                    CharVocabulary.English.Encode(s, s) |> ignore

                    for w in s.Split ' ' do
                        Expect.isTrue (vocabulary.Contains w) $"'{w}' of '{s}' is in the vocabulary"
            }

            test "cue words belong to one emotion only and every emotion has some" {
                let cues = DemoGrammar.CueWords()
                Expect.equal cues.Length 6 "six emotions"

                for e in 0..5 do
                    Expect.isNonEmpty cues[e] $"{DemoEmotions.Names[e]} has cue words"

                    for o in 0..5 do
                        if o <> e then
                            Expect.isEmpty (Set.intersect (set cues[e]) (set cues[o])) $"{e} and {o} share no cue word"
            }

            test "two draws from one set of voices never share a voice" {
                let taken = HashSet<string>()
                let rng = Random 2
                let a = DemoSpeakers.Draw(150, rng, "a", taken)
                let b = DemoSpeakers.Draw(60, rng, "b", taken)
                let key (s: DemoSpeaker) = s.Voice, s.Pitch
                let keys = Seq.append a b |> Seq.map key |> List.ofSeq
                Expect.equal (List.distinct keys).Length keys.Length "all voices distinct"
                Expect.isGreaterThanOrEqual (a |> Seq.map (fun s -> s.Accent) |> Seq.distinct |> Seq.length) 6 "several accents"
            }

            test "labels are MOSEI-like: happy common, fear rare, intensities multiples of 1/3 in (0, 3]" {
                let rng = Random 3
                let draws = Array.init 4000 (fun _ -> DemoEmotions.DrawIntensities rng)

                let rate e =
                    (draws |> Array.filter (fun d -> d[e] > 0f)).Length
                    |> float
                    |> (fun n -> n / 4000.0)

                Expect.isGreaterThan (rate 0) 0.4 "happy common"
                Expect.isLessThan (rate 5) 0.12 "fear rare"
                Expect.isGreaterThan (rate 0) (3.0 * rate 5) "imbalance"

                for d in draws do
                    for x in d do
                        Expect.isTrue (x = 0f || (x > 0f && x <= 3f && abs (x * 3f - round (x * 3f)) < 1e-5f)) $"{x}"
            }

            test "prosody follows the emotions whose cue is on, and only those" {
                let s = DemoSpeakers.Draw(1, Random 4, "s", HashSet())[0]
                let sad = [| 0f; 3f; 0f; 0f; 0f; 0f |]
                let on = Array.create 6 true
                let off = Array.create 6 false
                let p0 = DemoEmotions.ProsodyOf(s, sad, off)
                let p1 = DemoEmotions.ProsodyOf(s, sad, on)
                Expect.equal p0.Pitch s.Pitch "no cue, base pitch"
                Expect.isLessThan p1.Pitch p0.Pitch "sad lowers pitch"
                Expect.isLessThan p1.Rate p0.Rate "sad slows down"
                Expect.isLessThan p1.Amplitude p0.Amplitude "sad is quieter"
                let angry = DemoEmotions.ProsodyOf(s, [| 0f; 0f; 3f; 0f; 0f; 0f |], on)
                Expect.isGreaterThan angry.Amplitude p0.Amplitude "anger is louder"
            }

            test "the rendered mouth opens with the envelope and smiles bend its corners" {
                let face = (Seq.head (DemoSpeakers.Draw(1, Random 5, "s", HashSet()))).Face
                let size = 64
                let closed = FaceRenderer.Render(size, face, Expression.Neutral, 0.0f)
                let opened = FaceRenderer.Render(size, face, Expression.Neutral, 1.0f)

                let darker a b =
                    List.sum (mouthRegion a size) < List.sum (mouthRegion b size)

                Expect.isTrue (darker opened closed) "an open mouth shows more dark pixels"

                let smile =
                    FaceRenderer.Render(size, face, Expression(1.0f, 0f, 0f, 0.5f, 0f), 0.0f)

                let frown =
                    FaceRenderer.Render(size, face, Expression(-1.0f, 0f, 0f, 0.5f, 0f), 0.0f)

                Expect.notEqual smile frown "smile and frown differ"

                Expect.equal
                    (FaceRenderer.Render(size, face, Expression.Neutral, 0.3f))
                    (FaceRenderer.Render(size, face, Expression.Neutral, 0.3f))
                    "deterministic"

                Expect.all closed (fun v -> v >= 0f && v <= 1f) "grey levels in [0, 1]"
            }

            test "demo folds are by speaker: disjoint speakers, every video once, every emotion's positives in every fold" {
                // 20 speakers of 3 videos with 2 segments each; happy everywhere, fear only with 3 of the speakers,
                // so a plain shuffle would mostly leave fear out of a fold.
                let fearful = set [ "em0003"; "em0011"; "em0017" ]

                let videos =
                    [|
                        for s in 0..19 do
                            let speaker = $"em{s:D4}"

                            for v in 0..2 ->
                                let fear = if fearful.Contains speaker && v = 0 then 1f else 0f

                                DemoVideoLabels(
                                    $"{speaker}_v{v}",
                                    speaker,
                                    [| [| 1f; 0f; 0f; 0f; 0f; fear |]; [| 0f; 1f; 0f; 0f; 0f; 0f |] |]
                                )
                    |]

                let o = DemoCorpusOptions()
                let folds = DemoFolds.BySpeaker(videos, o)
                let speakers f = Set.ofArray folds.Speakers[f]

                Expect.equal
                    (DemoFolds.Names |> Array.map (fun f -> folds.Speakers[f].Length))
                    [| 14; 2; 4 |]
                    "train 70 %, valid 10 %, test 20 % of 20 speakers"

                for a in DemoFolds.Names do
                    for b in DemoFolds.Names do
                        if a < b then
                            Expect.isEmpty (Set.intersect (speakers a) (speakers b)) $"{a} and {b} share no speaker"

                let assigned = DemoFolds.Names |> Array.collect (fun f -> folds.Videos[f])
                Expect.equal (Array.sort assigned) (videos |> Array.map _.Id |> Array.sort) "every video exactly once"

                for f in DemoFolds.Names do
                    for id in folds.Videos[f] do
                        let v = videos |> Array.find (fun v -> v.Id = id)
                        Expect.isTrue ((speakers f).Contains v.Speaker) $"{id} is in its speaker's fold {f}"

                    Expect.isNonEmpty (Set.intersect (speakers f) fearful) $"{f} has a fearful speaker"

                let again = DemoFolds.BySpeaker(videos, o)

                let videosOf (a: DemoFoldAssignment) =
                    DemoFolds.Names |> Array.map (fun f -> a.Videos[f])

                Expect.equal (videosOf again) (videosOf folds) "the seed fixes the folds"
                let three = videos |> Array.filter (fun v -> v.Speaker < "em0003")
                let tiny = DemoFolds.BySpeaker(three, o)
                Expect.equal (DemoFolds.Names |> Array.map (fun f -> tiny.Speakers[f].Length)) [| 1; 1; 1 |] "3 speakers: one per fold"
                let two = videos |> Array.filter (fun v -> v.Speaker < "em0002")

                Expect.throwsC (fun () -> DemoFolds.BySpeaker(two, o) |> ignore) (fun e ->
                    Expect.stringContains e.Message "2 speaker(s)" "names the count")
            }

            test "espeak-ng speaks a sentence to a 16-bit WAV that grows with the text" {
                let dir = Directory.CreateTempSubdirectory "espeak"

                try
                    let s = DemoSpeakers.Draw(1, Random 6, "s", HashSet())[0]
                    let p = Prosody(s.Pitch, s.Rate, 100, 0)
                    let short = Path.Combine(dir.FullName, "short.wav")
                    let long = Path.Combine(dir.FullName, "long.wav")
                    Espeak.Synthesize("hello", s.Voice, p, short)
                    Espeak.Synthesize("hello there this is a much longer sentence to speak", s.Voice, p, long)
                    Expect.isGreaterThan (FileInfo(long).Length) (2L * FileInfo(short).Length) "longer text, longer audio"
                    let header = File.ReadAllBytes(short)[0..11]
                    Expect.equal (Text.Encoding.ASCII.GetString header[0..3]) "RIFF" "a RIFF file"
                    Expect.throws (fun () -> Espeak.Synthesize("  ", s.Voice, p, short)) "empty text"
                finally
                    dir.Delete true
            }
        ]
