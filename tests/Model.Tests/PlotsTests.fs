module Research.Model.Tests.PlotsTests

open System
open System.IO
open System.Buffers.Binary
open System.Text.Json
open Expecto
open Plotly.NET
open Research.Experiments
open Research.Model.Tests.DataFixtures

let private figure (chart: GenericChart) =
    JsonDocument.Parse(GenericChart.toFigureJson chart).RootElement

let private floats (e: JsonElement) =
    [| for x in e.EnumerateArray() -> x.GetDouble() |]

let private strings (e: JsonElement) =
    [| for x in e.EnumerateArray() -> x.GetString() |]

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Plots"
        [
            test "save writes one HTML file with plotly.js inline and no external script" {
                use d = new TempDir()
                let path = d.Sub "charts/one.html"
                Plots.save (Chart.Point([ 1.0, 2.0 ])) path
                let html = File.ReadAllText path
                Expect.stringContains html "plotly.js v" "plotly.js is in the file"
                Expect.isFalse (html.Contains "<script src=") "no external script"
                Expect.isGreaterThan html.Length 1_000_000 "the library itself (~3.5 MB)"
                Expect.isEmpty (Directory.GetFiles(d.Sub "charts", ".*")) "no temporary file"
            }

            test "attentionMap: z is the map, audio steps top to bottom, words as tick labels (repeats kept apart)" {
                let w = Array2D.init 3 4 (fun i j -> float (10 * i + j))
                let words = [| "the"; "cat"; "saw"; "the" |]
                let f = figure (Plots.attentionMap "map" "words" (Some words) w)
                let trace = f.GetProperty("data")[0]
                Expect.equal (trace.GetProperty("type").GetString()) "heatmap" "heatmap"
                let z = [| for r in trace.GetProperty("z").EnumerateArray() -> floats r |]
                Expect.equal z [| for i in 0..2 -> [| for j in 0..3 -> w[i, j] |] |] "z = weights, row i = audio step i"
                Expect.equal (floats (trace.GetProperty "x")) [| 0.0; 1.0; 2.0; 3.0 |] "one column per word"
                let x = f.GetProperty("layout").GetProperty("xaxis")
                Expect.equal (strings (x.GetProperty "ticktext")) words "word labels"
                Expect.equal (floats (x.GetProperty "tickvals")) [| 0.0; 1.0; 2.0; 3.0 |] "at each column"

                Expect.equal
                    (f.GetProperty("layout").GetProperty("yaxis").GetProperty("autorange").GetString())
                    "reversed"
                    "first audio step on top"

                let text = trace.GetProperty "text"
                let row = text[2]
                let hover = row[3].GetString()
                Expect.stringContains hover "audio step 2, words 3 'the'" "hover names the cell"

                Expect.throwsT<ArgumentException>
                    (fun () -> Plots.attentionMap "m" "words" (Some [| "a" |]) w |> ignore)
                    "one label per column"
            }

            test "scatter2d: one trace per category, in order of first appearance, with its points" {
                let points = [| 0.0, 1.0; 2.0, 3.0; 4.0, 5.0; 6.0, 7.0 |]
                let cats = [| "sad"; "happy"; "sad"; "fear" |]
                let hover = [| "a"; "b"; "c"; "d" |]
                let f = figure (Plots.scatter2d "s" ("PC1", "PC2") points cats hover)
                let traces = [| for t in f.GetProperty("data").EnumerateArray() -> t |]
                Expect.equal [| for t in traces -> t.GetProperty("name").GetString() |] [| "sad"; "happy"; "fear" |] "names"
                Expect.equal (floats (traces[0].GetProperty "x")) [| 0.0; 4.0 |] "sad x"
                Expect.equal (floats (traces[0].GetProperty "y")) [| 1.0; 5.0 |] "sad y"
                Expect.equal (strings (traces[0].GetProperty "text")) [| "a"; "c" |] "sad hover"

                let colours =
                    traces
                    |> Array.map (fun t -> t.GetProperty("marker").GetProperty("color").GetString())

                Expect.equal (Array.distinct colours).Length 3 "a colour each"

                Expect.throwsT<ArgumentException>
                    (fun () -> Plots.scatter2d "s" ("x", "y") points [| "a" |] hover |> ignore)
                    "lengths must match"
            }

            test "png renders a saved chart with headless chromium (skipped when chromium is not installed)" {
                match Plots.chromium () with
                | None -> skiptest "chromium is not installed (apt-get install chromium)"
                | Some _ ->
                    use d = new TempDir()
                    let html = d.Sub "map.html"
                    Plots.save (Plots.attentionMap "map" "frames" None (Array2D.init 5 6 (fun i j -> float (i * j)))) html
                    let png = d.Sub "png/map.png"
                    Expect.isTrue (Plots.pngSized 640 480 html png) "written"
                    let bytes = File.ReadAllBytes png
                    Expect.equal bytes[1..3] "PNG"B "PNG signature"
                    let width = BinaryPrimitives.ReadInt32BigEndian(ReadOnlySpan(bytes, 16, 4))
                    let height = BinaryPrimitives.ReadInt32BigEndian(ReadOnlySpan(bytes, 20, 4))
                    Expect.equal (width, height) (640, 480) "window size"
                    Expect.isGreaterThan bytes.Length 5000 "a drawn chart, not a blank page"
                    Expect.isEmpty (Directory.GetFiles(d.Sub "png", ".*")) "no temporary file"
            }
        ]
