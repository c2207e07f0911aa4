module Research.Model.Tests.Data.MoseiSummaryTests

open System.IO
open System.Text.Json
open System.Text.Json.Nodes
open Expecto
open Research.Model.Data
open Research.Model.Tests.Data.MoseiFixtures

[<Tests>]
let tests =
    testList
        "Data.MoseiSummary"
        [
            test "inspect's JSON equals the script's, key order included" {
                use c = MoseiCorpus.Open(corpus, folds, MoseiOptions.LabelsOnly)
                let json = (MoseiSummary.Of(c.Segments())).ToJson()
                let want = JsonNode.Parse(File.ReadAllText(fixture [ "inspect.json" ]))
                Expect.isTrue (JsonNode.DeepEquals(JsonNode.Parse json, want)) $"{json} vs {want.ToJsonString()}"
                Expect.equal json (want.ToJsonString()) "same text, compact"
                Expect.isFalse (json.Contains '\n') "one line"
            }

            test "an emotion with no positive segment counts 0, and videos in no fold are not counted" {
                use c = MoseiCorpus.Open(corpus, folds, MoseiOptions.LabelsOnly)
                let s = MoseiSummary.Of(c.Segments())
                // fear is 0 in every fold video; the video in no fold has fear > 0.
                Expect.equal s.Positives[5] 0 "fear"
                Expect.equal s.Segments (Array.sum s.ByFold) "folds add up"
            }
        ]
