module Research.Model.Tests.Text.GloVeTests

open System
open System.IO
open System.Text.Json
open Expecto
open Research.Model.Text
open Research.Model.Tests.ReferenceFiles

let private sample () = reference "text" "glove_sample.4d.txt"

let private vocab (words: string list) : Collections.Generic.IReadOnlySet<string> =
    Collections.Generic.HashSet<string>(words)

let private read (path: string) (words: string list) = GloVe.Read(path, vocab words)

/// Expects a FormatException whose message contains every one of the parts.
let private failsWith (parts: string list) (f: unit -> unit) =
    Expect.throwsC f (fun e ->
        Expect.isTrue (e :? FormatException) $"FormatException, got {e.GetType().Name}: {e.Message}"

        for p in parts do
            Expect.stringContains e.Message p "message")

[<Tests>]
let tests =
    testList
        "Text.GloVe"
        [
            test "keeps only the vocabulary's words, infers the dimension, splits from the right" {
                let v = read (sample ()) [ "the"; "a b"; ". . ."; "héllo"; "n't"; "absent" ]
                Expect.equal v.Dimension 4 "dimension from line 1"
                Expect.equal v.Count 5 "only requested words that exist"
                Expect.equal (v.Vector "the") [| 0.1f; 0.2f; -0.3f; 0.4f |] "the"
                Expect.equal (v.Vector "a b") [| 3f; 3f; 3f; 3f |] "a word containing a space"
                Expect.equal (v.Vector ". . .") [| 4f; 4f; 4f; 4f |] "a word of spaced dots"
                Expect.equal (v.Vector "héllo") [| 5f; 5f; 5f; -0.055f |] "UTF-8 word, exponent notation"
                Expect.isFalse (v.Contains "do") "not requested"
                Expect.isFalse (v.Contains "absent") "not in the file"
                Expect.isNull (v.Vector "absent") "no vector"
                Expect.equal v.SourceWords 12L "lines read"
            }

            test "a repeated word keeps its first vector and case is exact" {
                let v = read (sample ()) [ "the"; "The" ]
                Expect.equal (v.Vector "the") [| 0.1f; 0.2f; -0.3f; 0.4f |] "first wins"
                Expect.equal (v.Vector "The") [| 7f; 7f; 7f; 7f |] "case-sensitive"
                Expect.equal v.DuplicateLines 1L "one duplicate line"
            }

            test "malformed files are errors naming the file and line" {
                use dir = new TempDir()

                let write name (lines: string list) =
                    let path = dir.File name
                    File.WriteAllLines(path, lines)
                    path

                let short = write "short.txt" [ "the 1 2 3"; "and 1 2 3"; "of 1 2" ]
                failsWith [ short; "line 3"; "expected a word and 3 values, found 3 fields" ] (fun () -> read short [ "the" ] |> ignore)

                let text = write "text.txt" [ "the 1 2 3"; "and 1 x 3" ]
                failsWith [ text; "line 2"; "word \"and\""; "value 2 of 3 is \"x\"" ] (fun () -> read text [ "and" ] |> ignore)
                Expect.equal (read text [ "the" ]).Count 1 "values of words outside the vocabulary are not parsed"

                let nan = write "nan.txt" [ "the 1 2 3"; "and 1 NaN 3" ]
                failsWith [ nan; "line 2"; "finite" ] (fun () -> read nan [ "and" ] |> ignore)

                let noWord = write "noword.txt" [ "the 1 2 3"; " 1 2 3" ]
                failsWith [ noWord; "line 2"; "word is empty" ] (fun () -> read noWord [ "the" ] |> ignore)

                let header = write "header.txt" [ "400000 3"; "the 1 2 3" ]
                failsWith [ header; "line 1"; "word2vec header" ] (fun () -> read header [ "the" ] |> ignore)

                let blank = write "blank.txt" [ "the 1 2 3"; "" ]
                failsWith [ blank; "line 2 is empty" ] (fun () -> read blank [ "the" ] |> ignore)

                failsWith [ sample (); "line 1 has 4 values, expected 300" ] (fun () ->
                    GloVe.Read(sample (), vocab [ "the" ], 300) |> ignore)

                Expect.throwsT<FileNotFoundException> (fun () -> read (dir.File "missing.txt") [ "the" ] |> ignore) "missing file"
            }

            test "embedding gives zero rows for OOV tokens and lists them in order" {
                let v = read (sample ()) [ "it"; "'s"; "the" ]
                let tokens = Tokenizer.Uncased.Tokenize "It's the zzz, the zzz"
                Expect.equal (List.ofSeq tokens) [ "it"; "'s"; "the"; "zzz"; ","; "the"; "zzz" ] "tokens"
                let e = v.Embed tokens
                Expect.equal (e.Vectors.GetLength 0, e.Vectors.GetLength 1) (7, 4) "shape"
                Expect.equal e.Vectors[0, *] [| 2f; 2f; 2f; 2f |] "it"
                Expect.equal e.Vectors[2, *] [| 0.1f; 0.2f; -0.3f; 0.4f |] "the"
                Expect.equal e.Vectors[3, *] (Array.zeroCreate 4) "OOV row is zero"
                Expect.equal (List.ofSeq e.Oov) [ "zzz"; ","; "zzz" ] "OOV tokens in order, repeats kept"
            }

            test "the OOV report accumulates over items and writes JSON atomically" {
                let v = read (sample ()) [ "the"; "it" ]
                let report = OovReport()
                report.Add(v.Embed [| "the"; "zzz"; "it"; "yy" |])
                report.Add(v.Embed [| "zzz"; "the" |])
                let other = OovReport()
                other.Add(3L, [| "yy"; "a" |])
                report.Add other
                Expect.equal (report.TotalTokens, report.OovTokens) (9L, 5L) "counts"
                Expect.floatClose Accuracy.veryHigh report.OovRate (5.0 / 9.0) "rate"

                Expect.equal [ for kv in report.Words -> kv.Key, kv.Value ] [ "yy", 2L; "zzz", 2L; "a", 1L ] "by count, then word"

                use dir = new TempDir()
                let path = dir.File "oov.json"
                File.WriteAllText(path, "old")
                report.WriteJson(path, "glove_sample.4d.txt")
                use doc = JsonDocument.Parse(File.ReadAllText path)
                let r = doc.RootElement
                Expect.equal (r.GetProperty("total_tokens").GetInt64()) 9L "total"
                Expect.equal (r.GetProperty("oov_tokens").GetInt64()) 5L "oov"
                Expect.equal (r.GetProperty("distinct_oov_words").GetInt32()) 3 "distinct"
                let first = r.GetProperty("oov_words")[0]
                Expect.equal (first.GetProperty("word").GetString(), first.GetProperty("count").GetInt64()) ("yy", 2L) "first word"
                Expect.equal (r.GetProperty("source").GetString()) "glove_sample.4d.txt" "source"
                Expect.equal (Directory.GetFiles dir.Path |> Array.map Path.GetFileName) [| "oov.json" |] "no temporary file left"
            }
        ]
