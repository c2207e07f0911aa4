module Research.Model.Tests.Text.TranscriptNormalizerTests

open Expecto
open Research.Model
open Research.Model.Text

[<Tests>]
let tests =
    testList
        "Text.TranscriptNormalizer"
        [
            test "lower-cases, maps typographic apostrophes and collapses white space" {
                let n = TranscriptNormalizer()
                let text = n.Normalize "  Don\u2019t   STOP\tnow\u2019s \n"
                Expect.equal text "don't stop now's" "normalised"
                Expect.all (CharVocabulary.English.Encode text) (fun i -> i >= CharVocabulary.FirstCharacter) "fits the ASR vocabulary"
            }

            test "a character outside the vocabulary is an error naming the item, or is dropped when asked" {
                Expect.throwsC (fun () -> TranscriptNormalizer().Normalize("hello, world", "utt-9") |> ignore) (fun e ->
                    Expect.stringContains e.Message "utt-9: character ',' (U+002C) at position 5" "names item, character, position")

                let dropping = TranscriptNormalizer(dropUnknown = true)
                Expect.equal (dropping.Normalize "Hello, world - 42 times!") "hello world times" "dropped, spaces collapsed"
            }

            test "an empty result is an error naming the item" {
                let dropping = TranscriptNormalizer(dropUnknown = true)

                for text in [ ""; "  "; "!!! 42" ] do
                    Expect.throwsC (fun () -> dropping.Normalize(text, "utt-1") |> ignore) (fun e ->
                        Expect.stringContains e.Message "utt-1: transcript is empty" "names the item")
            }
        ]
