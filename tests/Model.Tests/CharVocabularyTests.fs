module Research.Model.Tests.CharVocabularyTests

open Expecto
open Research.Model
open Research.Model.Text

[<Tests>]
let tests =
    testList
        "CharVocabulary"
        [
            test "encode then decode gives the lower-cased text back" {
                let v = CharVocabulary.English
                let ids = v.Encode "It's a Test"
                Expect.all ids (fun i -> i >= CharVocabulary.FirstCharacter && i < v.Size) "ordinary ids"
                Expect.equal (v.Decode(ids |> Seq.map int64)) "it's a test" "round trip"
            }

            test "decoding stops at the end symbol and skips pads and starts" {
                let v = CharVocabulary.English
                let h = int64 (v.Encode "h").[0]
                let i = int64 (v.Encode "i").[0]

                Expect.equal
                    (v.Decode
                        [
                            int64 CharVocabulary.Sos
                            h
                            int64 CharVocabulary.Pad
                            i
                            int64 CharVocabulary.Eos
                            h
                        ])
                    "hi"
                    "stops at EOS"
            }

            test "an unknown character names the item and position unless allowed" {
                let v = CharVocabulary.English

                Expect.throwsC (fun () -> v.Encode("ab3", "utt-7") |> ignore) (fun e ->
                    Expect.stringContains e.Message "utt-7: character '3' (U+0033) at position 2" "message")

                Expect.equal (v.Encode("ab3", "utt-7", true).[2]) CharVocabulary.Unk "mapped to unknown"
            }

            test "the English vocabulary has 28 characters after 4 specials" { Expect.equal CharVocabulary.English.Size 32 "size" }
        ]
