/// The main job's index page in a real browser (headless Chromium, offline): every link leads to a file, every linked
/// figure page loads without a script error and Plotly draws its plot. Skipped, with a notice, without chromium.
module Research.Model.Tests.Reporting.IndexPageBrowserTests

open System
open System.IO
open System.Text.RegularExpressions
open Expecto
open Plotly.NET
open Research.Model.Training
open Research.Experiments
open Research.Experiments.Protocol
open Research.Model.Tests
open Research.Model.Tests.DataFixtures

/// A pre-training run folder holding only its metrics log: 40 steps of the pre-training terms, 4 evaluations.
let private pretrainingLog (folder: string) =
    Directory.CreateDirectory folder |> ignore
    use log = MetricsLog.Open(Path.Combine(folder, RunFolder.LogFile))

    for n in 1L .. 40L do
        log.Step(TrainingFixtures.step n, 1, 10.0)

    for n in [ 10L; 20L; 30L; 40L ] do
        log.Evaluation(n, readOnlyDict [ "cer", 1.0 / float n; "speaker_accuracy", 0.5 + float n / 100.0 ], "valid")

/// The main job's output folder, made by the calls the main job makes (TableFiles.writeAll, Figures.all, Figures.index)
/// from the table tests' fixture results, whose pre-trained model's chosen seed is a real tiny fine-tuning run of the
/// protocol tests (for the attention maps) and whose pre-training run has a metrics log. Returns index.html and the
/// figures.
let private mainJobOutput (mode: Plots.PlotlyMode) (root: string) =
    let run =
        ProtocolTests.tinyRun (Path.Combine(root, "runs")) "tf-pretrained" (ProtocolTests.stores.Force())

    let pretraining = Path.Combine(root, "runs", "pretrain")
    pretrainingLog pretraining

    let results =
        { TablesTests.fixture with
            Models =
                TablesTests.fixture.Models
                |> Array.map (fun m ->
                    if m.Key = TableFormat.pretrainedKey then
                        { m with
                            Seeds = m.Seeds |> Array.map (fun s -> { s with Run = run.Run })
                        }
                    else
                        m)
            PretrainingRun = pretraining
        }

    let folder = Path.Combine(root, "tables")
    Directory.CreateDirectory folder |> ignore
    let tables = TableFiles.writeAll folder results
    let figures = Figures.all mode folder results
    Figures.index folder results tables figures, figures

/// Runs `f` with a headless Chromium; without chromium prints a notice (Expecto shows skipped tests only with
/// --debug) and skips the test.
let private withChromium (f: Browser.Chromium -> unit) =
    match Browser.withChromium "the index page's browser check" f with
    | Some() -> ()
    | None -> skiptest "chromium is not installed (apt-get install chromium; scripts/test.fsx installs it as root)"

let private problemList (report: SiteCheck.Report) = String.Join("\n  ", report.Problems)

[<Tests>]
let tests =
    testSequenced
    <| testList
        "Reporting.IndexPageBrowser"
        [
            test "index.html shows the tables' inline code as code, not as Markdown backticks" {
                use d = new TempDir()
                let tables = TableFiles.writeAll d.Path TablesTests.fixture
                let html = File.ReadAllText(Figures.index d.Path TablesTests.fixture tables [])

                Expect.stringContains html "<code>dotnet fsi scripts/reproduce.fsx -- --seeds 2</code>" "the command as code"
                Expect.isFalse (html.Contains "`") "no backtick left"
            }

            test "the main job's index page, offline: every link leads to a file, every figure draws its plot, no script error" {
                withChromium (fun browser ->
                    use d = new TempDir()
                    let index, figures = mainJobOutput Plots.Inline d.Path
                    let report = SiteCheck.check browser index

                    Expect.isEmpty report.Problems $"problems on {index}:\n  {problemList report}"

                    let figurePages = figures |> List.map (fun f -> f.Html)

                    Expect.equal report.Pages ("index.html" :: figurePages) "the index, then every figure page, loaded"
                    Expect.isGreaterThanOrEqual figures.Length 5 "curves, per-emotion bars, ablations, attention maps"

                    Expect.equal
                        (report.Plots |> List.map (fun p -> p.Page))
                        figurePages
                        "one drawn plot per figure page (none on the index)"

                    // 3 tables × (.md, .tex, .csv), one link per figure and one per PNG copy
                    let pngs = figures |> List.filter (fun f -> f.Png.IsSome) |> List.length
                    Expect.equal report.Links (9 + figures.Length + pngs) "every link on the index was followed")
            }

            test "with one shared plotly.min.js (Plotly.NET's copy) every figure still draws offline, and the pages are small" {
                withChromium (fun browser ->
                    use d = new TempDir()
                    let index, figures = mainJobOutput Plots.Shared d.Path
                    let report = SiteCheck.check browser index
                    Expect.isEmpty report.Problems $"problems on {index}:\n  {problemList report}"

                    Expect.equal
                        (report.Plots |> List.map (fun p -> p.Page))
                        (figures |> List.map (fun f -> f.Html))
                        "one drawn plot per figure page"

                    let folder = Path.GetDirectoryName index
                    let shared = Path.Combine(folder, Plots.sharedPlotlyFile)
                    Expect.equal (File.ReadAllBytes shared) (snd (Plots.shippedPlotly ())) "the shipped plotly.js, once"

                    for f in figures do
                        let page = Path.Combine(folder, f.Html)
                        Expect.isLessThan (FileInfo(page).Length) 500_000L $"{f.Html} does not inline plotly.js"
                        Expect.stringContains (File.ReadAllText page) $"src=\"{Plots.sharedPlotlyFile}\"" "loads the shared copy")
            }

            test "the check fails a figure without plotly.js, one that needs the network, a script error and a broken link" {
                withChromium (fun browser ->
                    use d = new TempDir()

                    let chart =
                        Chart.Column(values = [ 1.0; 3.0; 2.0 ], Keys = [ "a"; "b"; "c" ])
                        |> Chart.withTitle "bars"

                    let full = Plots.html chart
                    // plotly.js is the page's first script; it holds no "</script>" (that would end it early)
                    let library = Regex("<script[^>]*>.*?</script>", RegexOptions.Singleline)
                    File.WriteAllText(d.Sub "missing.html", library.Replace(full, "", 1))

                    let cdn =
                        chart
                        |> Chart.withDisplayOptionsStyle (
                            PlotlyJSReference = PlotlyJSReference.CDN "https://cdn.plot.ly/plotly-2.27.1.min.js"
                        )
                        |> GenericChart.toEmbeddedHTML

                    File.WriteAllText(d.Sub "cdn.html", cdn)

                    File.WriteAllText(
                        d.Sub "throws.html",
                        full.Replace("</body>", "<script>throw new Error('boom after drawing')</script></body>")
                    )

                    let index =
                        d.Write(
                            "index.html",
                            [
                                "<!DOCTYPE html><html><body>"
                                "<a href=\"missing.html\">no plotly.js</a>"
                                "<a href=\"cdn.html\">plotly.js from a CDN</a>"
                                "<a href=\"throws.html\">a script error</a>"
                                "<a href=\"table9.csv\">a table that is not there</a>"
                                "</body></html>"
                            ]
                        )

                    let report = SiteCheck.check browser index
                    let all = problemList report

                    let expect (page: string) (fragment: string) =
                        Expect.isTrue
                            (report.Problems
                             |> List.exists (fun p -> p.StartsWith page && p.Contains fragment))
                            $"a problem on {page} mentioning '{fragment}'; found:\n  {all}"

                    expect "missing.html ('no plotly.js')" "Plotly is not defined"
                    expect "missing.html ('no plotly.js')" "not drawn"
                    expect "cdn.html ('plotly.js from a CDN')" "network request (pages must work offline): https://cdn.plot.ly/"
                    expect "cdn.html ('plotly.js from a CDN')" "not drawn"
                    expect "throws.html ('a script error')" "uncaught script error: Error: boom after drawing"
                    expect "index.html: link 'a table that is not there' (table9.csv)" "does not exist"

                    Expect.isFalse
                        (report.Problems
                         |> List.exists (fun p -> p.StartsWith "throws.html" && p.Contains "not drawn"))
                        $"throws.html drew its plot: only the error fails it; found:\n  {all}")
            }
        ]
