module Research.Model.Tests.Text.TokenizerTests

open System
open Expecto
open Research.Model.Text

let private tokens (t: Tokenizer) (text: string) = t.Tokenize(text) |> List.ofSeq

let private uncasedCases =
    [
        "Don't stop!", [ "do"; "n't"; "stop"; "!" ]
        "It's John's car.", [ "it"; "'s"; "john"; "'s"; "car"; "." ]
        "I can't, won't.", [ "i"; "ca"; "n't"; ","; "wo"; "n't"; "." ]
        "We'll see (maybe)...", [ "we"; "'ll"; "see"; "("; "maybe"; ")"; "..." ]
        "I'm sure they're fine, you've seen, he'd go",
        [
            "i"
            "'m"
            "sure"
            "they"
            "'re"
            "fine"
            ","
            "you"
            "'ve"
            "seen"
            ","
            "he"
            "'d"
            "go"
        ]
        "shouldn't've", [ "should"; "n't"; "'ve" ]
        "don\u2019t \u2018quote\u2019", [ "do"; "n't"; "'"; "quote"; "'" ]
        "U.S. e.g., Mr. Smith", [ "u.s."; "e.g."; ","; "mr."; "smith" ]
        "$5 50% well-known 3.5 1,000 3.5.", [ "$"; "5"; "50"; "%"; "well-known"; "3.5"; "1,000"; "3.5"; "." ]
        "'hello' the dogs' bowls", [ "'"; "hello"; "'"; "the"; "dogs"; "'"; "bowls" ]
        "Wait?! -- no!!", [ "wait"; "?"; "!"; "--"; "no"; "!!" ]
        "John 's", [ "john"; "'s" ]
        "  a\tb\nc  ", [ "a"; "b"; "c" ]
        "rock'n'roll o'clock", [ "rock'n'roll"; "o'clock" ]
    ]

[<Tests>]
let tests =
    testList
        "Text.Tokenizer"
        [
            test "lower-cased PTB-style rules: punctuation at word ends, clitics, abbreviations" {
                for text, expected in uncasedCases do
                    Expect.equal (tokens Tokenizer.Uncased text) expected text
            }

            test "the cased tokenizer (glove.840B) keeps case and applies the same splits" {
                Expect.equal
                    (tokens Tokenizer.Cased "The U.S. Army isn't HERE.")
                    [ "The"; "U.S."; "Army"; "is"; "n't"; "HERE"; "." ]
                    "cased"

                Expect.isTrue (Tokenizer().LowerCase) "lower-case is the default"
            }

            test "a transcript without tokens is an error naming the item" {
                for text in [ ""; "   \t\n" ] do
                    Expect.throwsC (fun () -> Tokenizer.Uncased.Tokenize(text, "mosei/abc_3") |> ignore) (fun e ->
                        Expect.isTrue (e :? FormatException) "FormatException"
                        Expect.stringContains e.Message "mosei/abc_3" "names the item")
            }
        ]
