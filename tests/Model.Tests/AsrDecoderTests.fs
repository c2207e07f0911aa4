module Research.Model.Tests.AsrDecoderTests

open Expecto
open TorchSharp
open Research.Model
open Research.Model.Tests.Fixtures
open Research.Model.Tests.Tensors
open Research.Model.Modules
open Research.Model.Text

[<Tests>]
let tests =
    testSequenced
    <| testList
        "AsrDecoder"
        [
            test "logits at position t ignore tokens after t" {
                use _ = torch.NewDisposeScope()
                let m = model 4L tiny
                let input = batch (examples 5 tiny [ (6, 5, 4); (4, 3, 2) ])
                let length = 8L

                let tokens =
                    torch.randint (int64 CharVocabulary.FirstCharacter, int64 tiny.VocabSize, [| 2L; length |])

                let logits = m.forward(input, tokens).AsrLogits

                for t in 0L .. length - 2L do
                    let changed = tokens.clone ()

                    changed.narrow(1, t + 1L, length - t - 1L).random_(float CharVocabulary.FirstCharacter, float tiny.VocabSize)
                    |> ignore

                    let other = m.forward(input, changed).AsrLogits
                    Expect.equal (maxAbsDiff (logits.narrow (1, 0L, t + 1L)) (other.narrow (1, 0L, t + 1L))) 0.0 $"positions <= {t}"

                    Expect.isGreaterThan
                        (maxAbsDiff (logits.narrow (1, t + 1L, length - t - 1L)) (other.narrow (1, t + 1L, length - t - 1L)))
                        1e-4
                        $"positions > {t} do change"
            }

            test "greedy decoding stops at the end symbol and returns no specials" {
                use _ = torch.NewDisposeScope()
                let m = model 4L tiny
                let input = batch (examples 5 tiny [ (6, 5, 4); (4, 3, 2) ])
                let out = m.Transcribe(input, 12)
                Expect.equal out.Length 2 "one sequence per item"

                for seq in out do
                    Expect.isLessThanOrEqual seq.Length 12 "at most maxLength"
                    Expect.all seq (fun t -> t >= int64 CharVocabulary.FirstCharacter || t = int64 CharVocabulary.Unk) "no specials"
            }

            // Two decoder layers (so the cache of a layer above the first is used), untrained weights (no end symbol:
            // every step runs), items of different lengths (memory padding), several seeds; in train mode before and
            // after, which decoding leaves as it found it.
            test "incremental greedy decoding gives the characters that recomputing the prefix gives" {
                use _ = torch.NewDisposeScope()

                for seed in 1L .. 4L do
                    let m = model seed tiny
                    m.train ()
                    let input = batch (examples (int seed) tiny [ (9, 5, 4); (4, 3, 2); (6, 7, 1) ])
                    let incremental = m.Transcribe(input, 30)
                    m.Asr.Incremental <- false
                    let full = m.Transcribe(input, 30)
                    m.Asr.Incremental <- true
                    Expect.isTrue m.training "train mode restored"
                    Expect.equal incremental full $"seed {seed}"
                    Expect.isTrue (incremental |> Array.exists (fun s -> s.Length >= 10)) "long enough to compare"
            }
        ]
